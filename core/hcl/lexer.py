"""A fast tokenizer for HCL native syntax, with quoted and heredoc templates.

Tokens are tuples ``(kind, start, end, value)``: kind is ``name``, ``num``, ``str``, ``nl``, ``eof`` or the
operator itself (``{``, ``==``...). A ``str`` token's value is the decoded string, or a :class:`Template`
when it holds interpolations or directives (their tokens are kept for the parser to check).
Errors carry a character offset; :func:`line_of` turns it into a line.
"""

from __future__ import annotations

import bisect
import math
import re
from typing import Any, TypeAlias

Token: TypeAlias = tuple[str, int, int, Any]


class LexError(Exception):
    """Input the tokenizer (or the parser built on it) cannot read, at a character offset."""

    def __init__(self, pos: int, reason: str) -> None:
        super().__init__(reason)
        self.pos = pos
        self.reason = reason


class RefusedByTerraform(LexError):
    """Input Terraform refuses too (a newline or an invalid escape in a quoted string): no second reader is asked."""


class Template:
    """A string with ``${...}`` or ``%{...}`` parts: ``parts`` are ``(marker, tokens)`` pairs."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[tuple[str, list[Token]]]) -> None:
        self.parts = parts


_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\f]+)
    |(?P<nl>\n)
    |(?P<comment>(?:\#|//)[^\n]*)
    |(?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    |(?P<num>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    |(?P<str>"(?:[^"\\\n$%]|\\[^\n]|\$\$\{|%%\{|\$(?!\{)|%(?!\{))*")
    |(?P<tpl>")
    |(?P<heredoc><<(?P<trim>-?)(?P<marker>[A-Za-z_][A-Za-z0-9_-]*)\r?\n)
    |(?P<block>/\*(?s:.*?)\*/)
    |(?P<op>==|!=|<=|>=|&&|\|\||=>|\.\.\.|::|\.\*|[{}\[\]()=,.:?!+\-*/%<>~])
    """,
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(?:u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)|\$\$\{|%%\{", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_PLAIN_QUOTED = re.compile(r'[^"\\\n$%]+')
_PLAIN_HEREDOC = re.compile(r"[^$%]+")


def _decode(match: re.Match[str]) -> str:
    text = match.group()
    if text[0] != "\\":
        return text[1:]  # $${ -> ${ and %%{ -> %{
    marker = text[1]
    if marker in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[marker]
    if marker in "uU" and len(text) > 2:
        code = int(text[2:], 16)
        if code <= 0x10FFFF and not 0xD800 <= code < 0xE000:
            return chr(code)
    raise ValueError(text)


def unescape(raw: str) -> str:
    """Decode the escapes of a quoted HCL string's body; ValueError on an invalid escape."""
    if "\\" not in raw and "$${" not in raw and "%%{" not in raw:
        return raw
    return _ESCAPE.sub(_decode, raw)


def unescape_lenient(raw: str) -> str:
    """Like :func:`unescape`, but keeps an invalid escape as written."""

    def decode(match: re.Match[str]) -> str:
        try:
            return _decode(match)
        except ValueError:
            return match.group()

    return _ESCAPE.sub(decode, raw)


def dedent_heredoc(body: str) -> str:
    """The value of a ``<<-`` heredoc: the smallest indentation of its non-blank lines removed."""
    lines = body.split("\n")
    indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in lines)


def _number(text: str, pos: int) -> int | float:
    if "." not in text and "e" not in text and "E" not in text:
        return int(text)
    value = float(text)
    if not math.isfinite(value):
        raise LexError(pos, f"the number {text} is out of range")
    return value


def tokenize(text: str, pos: int = 0, *, inner: bool = False) -> tuple[list[Token], int]:
    """Tokens from ``pos`` to the end, or (``inner``) to the ``}`` closing an interpolation."""
    tokens: list[Token] = []
    append = tokens.append
    match = _TOKEN.match
    depth = 0
    size = len(text)
    start = pos
    while pos < size:
        m = match(text, pos)
        if m is None:
            raise LexError(pos, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup
        end = m.end()
        if kind == "ws" or kind == "comment":
            pass
        elif kind == "nl":
            append(("nl", pos, end, None))
        elif kind == "name":
            append(("name", pos, end, m.group()))
        elif kind == "op":
            op = m.group()
            if inner and op == "}":
                if depth == 0:
                    append(("eof", pos, pos, None))
                    return tokens, end
                depth -= 1
            elif inner and op == "{":
                depth += 1
            append((op, pos, end, None))
        elif kind == "str":
            try:
                append(("str", pos, end, unescape(text[pos + 1 : end - 1])))
            except ValueError as error:
                raise RefusedByTerraform(pos, f"invalid escape {error} in a string") from None
        elif kind == "num":
            append(("num", pos, end, _number(m.group(), pos)))
        elif kind == "tpl":
            value, end = scan_template(text, end, size, quoted=True)
            append(("str", pos, end, value))
        elif kind == "heredoc":
            value, end = _heredoc(text, m)
            append(("str", pos, end, value))
        elif "\n" in m.group():  # a block comment spanning lines ends the line, as in python-hcl2
            append(("nl", pos, end, None))
        pos = end
    if inner:
        raise LexError(start, "an interpolation ${...} is not closed")
    append(("eof", size, size, None))
    return tokens, size


def scan_template(text: str, pos: int, limit: int, *, quoted: bool) -> tuple[str | Template, int]:
    """Read a template body from ``pos``: up to the closing quote (``quoted``) or to ``limit`` (heredoc)."""
    chunks: list[str] = []
    parts: list[tuple[str, list[Token]]] = []
    plain = _PLAIN_QUOTED if quoted else _PLAIN_HEREDOC
    start = pos
    while True:
        if pos >= limit:
            if quoted:
                raise LexError(start - 1, "a string is not closed")
            break
        m = plain.match(text, pos, limit)
        if m is not None:
            chunks.append(m.group())
            pos = m.end()
            continue
        char = text[pos]
        if char == '"':
            pos += 1
            break
        if char == "\n":
            raise RefusedByTerraform(start - 1, "a quoted string cannot span lines (use a heredoc)")
        if char == "\\":
            escape = _ESCAPE.match(text, pos)
            try:
                chunks.append(_decode(escape) if escape else "\\")
            except ValueError:
                written = escape.group() if escape else char
                raise RefusedByTerraform(pos, f"invalid escape {written} in a string") from None
            pos = escape.end() if escape else pos + 1
            continue
        if text.startswith("{", pos + 1):  # ${ or %{
            tokens, pos = tokenize(text, pos + 2, inner=True)
            parts.append((char, tokens))
            continue
        if text.startswith(char + "{", pos + 1):  # $${ or %%{
            chunks.append(char + "{")
            pos += 3
            continue
        chunks.append(char)
        pos += 1
    if parts:
        return Template(parts), pos
    return "".join(chunks), pos


def _heredoc(text: str, opener: re.Match[str]) -> tuple[str | Template, int]:
    trim, marker = opener.group("trim"), opener.group("marker")
    body_start = opener.end()
    closing = re.compile(rf"^[ \t]*{re.escape(marker)}[ \t\r]*$", re.MULTILINE).search(text, body_start)
    if closing is None:
        raise LexError(opener.start(), f"the heredoc <<{trim}{marker} is not closed by a {marker} line")
    value, _ = scan_template(text, body_start, closing.start(), quoted=False)
    if trim and isinstance(value, str):
        value = dedent_heredoc(value)
    return value, closing.end()


def heredoc_value(token_text: str) -> str | Template:
    """The value of a whole heredoc token (``<<EOT ... EOT``) as written in the source."""
    opener = _TOKEN.match(token_text)
    if opener is None or opener.lastgroup != "heredoc":
        raise LexError(0, "not a heredoc")
    value, _ = _heredoc(token_text, opener)
    return value


class Lines:
    """Character offset to 1-based line number."""

    __slots__ = ("_breaks",)

    def __init__(self, text: str) -> None:
        self._breaks = [m.start() for m in re.finditer("\n", text)]

    def __call__(self, pos: int) -> int:
        """The 1-based line of character offset ``pos``."""
        return bisect.bisect_left(self._breaks, pos) + 1
