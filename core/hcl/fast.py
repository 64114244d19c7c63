"""A fast recursive-descent reader for HCL native syntax, producing the :mod:`core.hcl.tree` tree.

It checks the whole grammar (expressions included) but is strict: anything it does not accept goes to
python-hcl2 (see :mod:`core.hcl.reference`), which decides what is valid and where the error is, except what
Terraform refuses too (:class:`~core.hcl.lexer.RefusedByTerraform`). Every kind of input where the two readers
disagree is listed, with what Terraform does, in ``READER_DISAGREEMENTS`` (tests/unit/test_module_parser.py).
Newlines end an attribute; inside ``( )``, ``[ ]``, for-expressions and interpolations they are ignored
(even between a function's name and its ``(``, as in Terraform, where python-hcl2 refuses it); inside an
object ``{ }`` they separate elements.
"""

from __future__ import annotations

from core.hcl.lexer import LexError, Lines, Template, Token, tokenize
from core.hcl.tree import NOT_LITERAL, Attribute, Block, Body, JsonValue, Value

_BINARY = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4,
           "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_END_OF_ITEM = ("nl", "eof", "}")
_LITERAL_NAMES: dict[str, JsonValue] = {"true": True, "false": False, "null": None}


def parse_fast(text: str) -> Body:
    """Read a whole file; raises :class:`LexError` on anything it does not accept."""
    tokens, _ = tokenize(text)
    parser = _Parser(tokens, text, Lines(text))
    attributes, blocks = parser.body(closing=False)
    return Body(attributes, blocks)


def literal_value(text: str) -> Value:
    """The literal value of one expression's source text (NOT_LITERAL if it is not a constant)."""
    tokens, _ = tokenize(text)
    parser = _Parser(tokens, text, Lines(text), ignore_newlines=True)
    value = parser.expression()
    parser.expect("eof")
    return value


class _Parser:
    __slots__ = ("i", "ignore", "lines", "text", "tokens")

    def __init__(self, tokens: list[Token], text: str, lines: Lines, *, ignore_newlines: bool = False) -> None:
        self.tokens = tokens
        self.text = text
        self.lines = lines
        self.i = 0
        self.ignore = [ignore_newlines]  # whether newlines are insignificant, innermost last

    # -- tokens -------------------------------------------------------------------------------------
    def peek(self) -> Token:
        token = self.tokens[self.i]
        if self.ignore[-1]:
            while token[0] == "nl":
                self.i += 1
                token = self.tokens[self.i]
        return token

    def fail(self, token: Token, what: str) -> LexError:
        kind = token[0]
        shown = {"eof": "end of file", "nl": "end of line"}.get(kind) or repr(self.text[token[1] : token[2]][:20])
        return LexError(token[1], f"unexpected {shown}, {what}")

    def expect(self, kind: str) -> Token:
        token = self.peek()
        if token[0] != kind:
            raise self.fail(token, f"expected {kind!r}")
        self.i += 1
        return token

    def skip_newlines(self) -> Token:
        token = self.tokens[self.i]
        while token[0] == "nl":
            self.i += 1
            token = self.tokens[self.i]
        return token

    # -- bodies ---------------------------------------------------------------------------------------
    def body(self, *, closing: bool) -> tuple[tuple[Attribute, ...], tuple[Block, ...]]:
        attributes: list[Attribute] = []
        blocks: list[Block] = []
        self.ignore.append(False)
        while True:
            token = self.skip_newlines()
            kind = token[0]
            if kind == "}" and closing:
                break
            if kind == "eof":
                if closing:
                    raise self.fail(token, "a closing } is missing")
                break
            if kind != "name":
                raise self.fail(token, "expected an argument or a block")
            self.i += 1
            following = self.tokens[self.i]
            if following[0] == "=":
                self.i += 1
                start = self.tokens[self.i][1]
                value = self.expression()
                end = self.tokens[self.i - 1][2]
                attributes.append(Attribute(token[3], self.lines(token[1]), self.text[start:end], value))
            else:
                blocks.append(self.block(token))
            if self.tokens[self.i][0] not in _END_OF_ITEM:
                raise self.fail(self.tokens[self.i], "expected a new line")
        self.ignore.pop()
        return tuple(attributes), tuple(blocks)

    def block(self, head: Token) -> Block:
        labels: list[str | None] = []
        token = self.tokens[self.i]
        while token[0] in ("str", "name"):
            labels.append(None if isinstance(token[3], Template) else token[3])
            if isinstance(token[3], Template):
                self.template(token[3])
            self.i += 1
            token = self.tokens[self.i]
        if token[0] != "{":
            raise self.fail(token, "expected '=' or '{'")
        self.i += 1
        attributes, blocks = self.body(closing=True)
        self.i += 1  # the closing }
        return Block(head[3], tuple(labels), self.lines(head[1]), attributes, blocks)

    # -- expressions ----------------------------------------------------------------------------------
    def expression(self) -> Value:
        value = self.binary(1)
        if self.peek()[0] == "?":
            self.i += 1
            self.expression()
            self.expect(":")
            self.expression()
            return NOT_LITERAL
        return value

    def binary(self, lowest: int) -> Value:
        value = self.unary()
        while True:
            precedence = _BINARY.get(self.peek()[0])
            if precedence is None or precedence < lowest:
                return value
            self.i += 1
            self.binary(precedence + 1)
            value = NOT_LITERAL

    def unary(self) -> Value:
        kind = self.peek()[0]
        if kind == "-" or kind == "!":
            self.i += 1
            value = self.unary()
            if kind == "-" and type(value) in (int, float):
                return -value  # type: ignore[operator]
            return NOT_LITERAL
        return self.postfix()

    def postfix(self) -> Value:
        value = self.primary()
        while True:
            kind = self.peek()[0]
            if kind == ".":
                self.i += 1
                if self.peek()[0] not in ("name", "num"):
                    raise self.fail(self.peek(), "expected an attribute name")
                self.i += 1
            elif kind == ".*":
                self.i += 1
            elif kind == "[":
                self.i += 1
                self.ignore.append(True)
                if self.peek()[0] == "*":
                    self.i += 1
                else:
                    self.expression()
                self.expect("]")
                self.ignore.pop()
            else:
                return value
            value = NOT_LITERAL

    def primary(self) -> Value:
        token = self.peek()
        kind = token[0]
        self.i += 1
        if kind == "num":
            return token[3]  # type: ignore[no-any-return]
        if kind == "str":
            if isinstance(token[3], Template):
                self.template(token[3])
                return NOT_LITERAL
            return token[3]  # type: ignore[no-any-return]
        if kind == "name":
            following = self.tokens[self.i][0]
            if following == "nl" and self.ignore[-1]:  # inside ( ) or [ ], `f\n(x)` is still a call
                following = self.peek()[0]
            if following == "(":
                self.call()
                return NOT_LITERAL
            if following == "::":
                for expected in ("::", "name", "::", "name"):
                    self.expect(expected)
                self.call()
                return NOT_LITERAL
            return _LITERAL_NAMES.get(token[3], NOT_LITERAL)
        if kind == "(":
            self.ignore.append(True)
            value = self.expression()
            self.expect(")")
            self.ignore.pop()
            return value
        if kind == "[":
            return self.sequence()
        if kind == "{":
            return self.mapping()
        self.i -= 1
        raise self.fail(token, "expected a value")

    def call(self) -> None:
        self.expect("(")
        self.ignore.append(True)
        while self.peek()[0] != ")":
            self.expression()
            kind = self.peek()[0]
            if kind == "...":
                self.i += 1
                break
            if kind != ",":
                break
            self.i += 1
        self.expect(")")
        self.ignore.pop()

    def is_for(self) -> bool:
        token = self.peek()
        return token[0] == "name" and token[3] == "for" and self.tokens[self.i + 1][0] == "name"

    def for_intro(self, *, colon: bool = True) -> None:
        self.i += 1  # for
        self.expect("name")
        if self.peek()[0] == ",":
            self.i += 1
            self.expect("name")
        token = self.expect("name")
        if token[3] != "in":
            raise self.fail(token, "expected 'in'")
        self.expression()
        if colon:
            self.expect(":")

    def for_condition(self) -> None:
        token = self.peek()
        if token[0] == "name" and token[3] == "if":
            self.i += 1
            self.expression()

    def sequence(self) -> Value:
        self.ignore.append(True)
        items: list[Value] = []
        if self.is_for():
            self.for_intro()
            self.expression()
            self.for_condition()
            items.append(NOT_LITERAL)
        else:
            while self.peek()[0] != "]":
                items.append(self.expression())
                if self.peek()[0] != ",":
                    break
                self.i += 1
        self.expect("]")
        self.ignore.pop()
        if any(item is NOT_LITERAL for item in items):
            return NOT_LITERAL
        return items  # type: ignore[return-value]

    def mapping(self) -> Value:
        self.skip_newlines()
        if self.is_for():
            self.ignore.append(True)
            self.for_intro()
            self.expression()
            self.expect("=>")
            self.expression()
            if self.peek()[0] == "...":
                self.i += 1
            self.for_condition()
            self.expect("}")
            self.ignore.pop()
            return NOT_LITERAL
        self.ignore.append(False)
        result: dict[str, JsonValue] | None = {}
        while True:
            token = self.skip_newlines()
            if token[0] == "}":
                break
            key = self.key()
            separator = self.peek()[0]
            if separator != "=" and separator != ":":
                raise self.fail(self.peek(), "expected '=' after an object key")
            self.i += 1
            value = self.expression()
            if result is not None and isinstance(key, str) and value is not NOT_LITERAL:
                result[key] = value  # type: ignore[assignment]
            else:
                result = None
            token = self.peek()
            if token[0] == ",":
                self.i += 1
            elif token[0] not in ("nl", "}"):
                raise self.fail(token, "expected ',' or a new line between object elements")
        self.i += 1
        self.ignore.pop()
        return NOT_LITERAL if result is None else result

    def key(self) -> Value:
        token = self.peek()
        if token[0] in ("name", "str") and self.tokens[self.i + 1][0] in ("=", ":"):
            self.i += 1
            if isinstance(token[3], Template):
                self.template(token[3])
                return NOT_LITERAL
            return token[3]  # type: ignore[no-any-return]
        self.expression()
        return NOT_LITERAL

    def template(self, template: Template) -> None:
        for marker, tokens in template.parts:
            sub = _Parser(tokens, self.text, self.lines, ignore_newlines=True)
            if marker == "$":
                sub.interpolation()
            else:
                sub.directive()

    def interpolation(self) -> None:
        if self.peek()[0] == "~":
            self.i += 1
        self.expression()
        if self.peek()[0] == "~":
            self.i += 1
        self.expect("eof")

    def directive(self) -> None:
        if self.peek()[0] == "~":
            self.i += 1
        word = self.expect("name")[3]
        if word == "if":
            self.expression()
        elif word == "for":
            self.i -= 1
            self.for_intro(colon=False)
        elif word not in ("else", "endif", "endfor"):
            raise LexError(self.tokens[self.i - 1][1], f"unknown template directive %{{{word}}}")
        if self.peek()[0] == "~":
            self.i += 1
        self.expect("eof")
