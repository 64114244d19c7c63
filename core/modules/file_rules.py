"""What a module's file may not contain, read from its syntax tree: the per-file rules of the module policy.

A file may not bring a ``backend`` or ``cloud`` block (the bot owns the state), call another module (only the
module folder's own ``.tf`` files are deployed, so no source can be honoured), hold a provisioner (refused in
partner modules unless an admin allows them; :mod:`core.modules.policy` decides), or pass a literal path that is
absolute or climbs with ``..`` to a file function. The path rule is a best-effort static check: the sandbox is
the real guard. Findings are kept with the file's cached parse, so they are found once per blob.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from core.hcl.display import quoted
from core.hcl.lexer import LexError, Template, Token, tokenize
from core.hcl.tree import Attribute, Block, Body
from core.modules.model import PolicyFinding

MAX_FINDINGS = 50  # per file: enough to act on, never a flood
FILE_FUNCTIONS = frozenset({
    "file", "fileexists", "fileset", "filebase64", "filemd5", "filesha1", "filesha256", "filesha512",
    "filebase64sha256", "filebase64sha512", "templatefile",
})
STATE_BLOCKS = frozenset({"backend", "cloud"})
_CLIMBS = re.compile(r"(?:^|[/\\])\.\.(?:[/\\]|$)")
_ABSOLUTE = re.compile(r"(?:[/\\~]|[A-Za-z]:[/\\])")
_REMOTE = re.compile(r"^(?:[a-z0-9+]+::|[a-z][a-z0-9+.-]*://|git@|github\.com/|bitbucket\.org/)", re.IGNORECASE)
_CALL_BY_PATTERN = re.compile(r"\b([a-z0-9]+)\s*\(\s*(\"(?:[^\"\\\n]|\\.)*\")")
_LOCAL_HINT = "only the module folder's own .tf files are deployed: put the code in this folder"


def policy_findings(filename: str, body: Body) -> tuple[PolicyFinding, ...]:
    """Every rule the file breaks, in source order (at most :data:`MAX_FINDINGS`)."""
    found: list[PolicyFinding] = []
    for block in body.blocks:
        if block.type == "terraform":
            found += _state_blocks(filename, block)
        elif block.type == "module":
            found += _module_call(filename, block)
    found += _provisioners(filename, body.blocks)
    for attribute in _all_attributes(body):
        found += _path_arguments(filename, attribute)
    found.sort(key=lambda finding: finding.line)
    return tuple(found[:MAX_FINDINGS])


def _state_blocks(filename: str, terraform: Block) -> Iterator[PolicyFinding]:
    for block in terraform.blocks:
        if block.type in STATE_BLOCKS:
            kind = f'a backend "{block.labels[0]}" block' if block.type == "backend" and block.labels and \
                block.labels[0] else f"a {block.type} block"
            yield PolicyFinding("state", filename, block.line,
                                f"{kind} is not allowed: the bot keeps each deployment's state; remove it")


def _module_call(filename: str, block: Block) -> Iterator[PolicyFinding]:
    name = f'module "{block.labels[0]}"' if block.labels and block.labels[0] else "a module block"
    source = next((a for a in block.attributes if a.name == "source"), None)
    if source is None:
        yield PolicyFinding("module", filename, block.line, f"{name} has no source; {_LOCAL_HINT}")
    elif not isinstance(source.value, str):
        yield PolicyFinding("module", filename, source.line, f"{name}: the source must be a literal string")
    else:
        yield PolicyFinding("module", filename, source.line, f"{name}: {source_problem(source.value)}")


def source_problem(source: str) -> str:
    """Why a ``module`` source cannot be used (every source is refused; the reason says what to do)."""
    shown = f"source {quoted(source[:80])}"
    if _ABSOLUTE.match(source):
        return f"{shown} is an absolute path, which is not allowed; {_LOCAL_HINT}"
    if not source.startswith(("./", "../")) or _REMOTE.match(source):
        return f"{shown} fetches code from elsewhere, which is not allowed; {_LOCAL_HINT}"
    resolved = posixpath.normpath(posixpath.join("module", source))
    if resolved == "module":
        return f"{shown} calls the module itself, which is not allowed"
    if not resolved.startswith("module/"):
        return f"{shown} points outside the module folder, which is not allowed; {_LOCAL_HINT}"
    return f"{shown} is a sub-folder, but sub-folders are not deployed; {_LOCAL_HINT}"


def _provisioners(filename: str, blocks: tuple[Block, ...]) -> Iterator[PolicyFinding]:
    for block in blocks:
        if block.type == "provisioner":
            kind = block.labels[0] if block.labels and block.labels[0] else "?"
            yield PolicyFinding("provisioner", filename, block.line,
                                f'provisioner "{kind}" runs on the bot\'s machines and is not allowed in partner '
                                "modules unless an admin turns on the allow_provisioners setting")
        else:
            yield from _provisioners(filename, block.blocks)


def _all_attributes(body: Body | Block) -> Iterator[Attribute]:
    yield from body.attributes
    for block in body.blocks:
        yield from _all_attributes(block)


def _path_arguments(filename: str, attribute: Attribute) -> Iterator[PolicyFinding]:
    if "(" not in attribute.text:
        return
    for function, raw, value in _literal_arguments(attribute.text):
        if _escapes(raw, value):
            yield PolicyFinding("path", filename, attribute.line,
                                f"{function}({raw[:80]}) reads outside the module folder: use a path inside it, "
                                'like "${path.module}/file.txt"')


def _escapes(raw: str, value: str | None) -> bool:
    """Whether a path argument (its source ``raw`` with quotes, its value when literal) is absolute or climbs."""
    text = value if value is not None else raw[1:-1]
    return bool(_ABSOLUTE.match(text) or _CLIMBS.search(text))


def _literal_arguments(text: str) -> Iterator[tuple[str, str, str | None]]:
    """``(function, argument source, value or None for a template)`` for string arguments of file functions."""
    try:
        tokens, _ = tokenize(text)
    except LexError:
        for match in _CALL_BY_PATTERN.finditer(text):
            if match.group(1) in FILE_FUNCTIONS:
                yield match.group(1), match.group(2), None
        return
    yield from _calls(tokens, text)


def _calls(tokens: list[Token], text: str) -> Iterator[tuple[str, str, str | None]]:
    significant = [token for token in tokens if token[0] != "nl"]
    for i, token in enumerate(significant):
        if token[0] == "str" and isinstance(token[3], Template):
            for _, inner in token[3].parts:
                yield from _calls(inner, text)
        if (token[0] != "name" or token[3] not in FILE_FUNCTIONS or i + 1 >= len(significant)
                or significant[i + 1][0] != "(" or (i > 0 and significant[i - 1][0] in ("::", "."))):
            continue
        depth = 0
        for previous, argument in zip(significant[i + 1:], significant[i + 2:], strict=False):
            if previous[0] in ("(", "[", "{"):
                depth += 1
            elif previous[0] in (")", "]", "}"):
                depth -= 1
            if depth <= 0:
                break
            if depth == 1 and previous[0] in ("(", ",") and argument[0] == "str":
                value = argument[3] if isinstance(argument[3], str) else None
                yield str(token[3]), text[argument[1]:argument[2]], value
