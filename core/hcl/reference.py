"""The python-hcl2 reader: its Lark parse tree turned into the :mod:`core.hcl.tree` tree.

python-hcl2 (8.x) is the authority on what is valid HCL and on where an error is. Its dict output
(``hcl2.loads``) is not used: it keeps strings with their quotes, wraps expressions as ``"${...}"``,
turns numbers into floats and has no source positions. The raw parse tree (``hcl2.parses_to_tree``) keeps
every token and each node's position, so expressions are cut from the source exactly as written.
"""

from __future__ import annotations

from typing import Any

import hcl2
from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from core.hcl.lexer import LexError, Template, heredoc_value, unescape_lenient
from core.hcl.tree import NOT_LITERAL, Attribute, Block, Body, HclSyntaxError, JsonValue, Value

_VALUE_STARTS = {"NAME", "INT_LITERAL", "FLOAT_LITERAL", "DBLQUOTE", "LSQB", "LBRACE", "TRUE", "FALSE", "NULL"}
_LITERALS: dict[str, JsonValue] = {"true": True, "false": False, "null": None}


def parse_reference(text: str) -> Body:
    """Read a whole file with python-hcl2; raises :class:`HclSyntaxError` with a line and a short reason."""
    try:
        tree = hcl2.parses_to_tree(text)
    except UnexpectedInput as error:
        raise HclSyntaxError(_error_line(error, text), _reason(error)) from None
    reader = _Reader(text)
    attributes, blocks = reader.body(tree.children[0])
    return Body(attributes, blocks)


def _error_line(error: UnexpectedInput, text: str) -> int:
    last = text.count("\n") + 1
    line = error.line if isinstance(error.line, int) and error.line > 0 else last
    return min(line, last)


def _reason(error: UnexpectedInput) -> str:
    """A short human reason from a Lark error (its own message lists grammar terminals)."""
    if isinstance(error, UnexpectedCharacters):
        return f"unexpected character {error.char!r}"
    if isinstance(error, UnexpectedEOF):
        return "unexpected end of file"
    if not isinstance(error, UnexpectedToken):
        return "not valid HCL"
    expected = set(error.expected)
    if error.token.type == "$END":
        if "RBRACE" in expected:
            return "unexpected end of file: a closing } is missing"
        if "DBLQUOTE" in expected:
            return "unexpected end of file: a string is not closed"
        return "unexpected end of file"
    words = str(error.token.value).strip().split()
    shown = f"'{words[0][:20]}'" if words else "end of line"
    if expected & _VALUE_STARTS and len(expected) > 3:
        return f"unexpected {shown}, expected a value"
    if expected == {"RBRACE"}:
        return f"unexpected {shown}, expected '}}'"
    if "$END" in expected and error.token.type == "RBRACE":
        return "unexpected '}': no block is open here"
    return f"unexpected {shown}"


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text

    def source(self, node: Tree[Any]) -> str:
        """The node's source text, without the trailing comment some rules (``binary_op``) take in."""
        return self.text[node.meta.start_pos : _end(node, node.meta.end_pos)].strip()

    def body(self, body: Tree[Any]) -> tuple[tuple[Attribute, ...], tuple[Block, ...]]:
        attributes: list[Attribute] = []
        blocks: list[Block] = []
        for child in body.children:
            if not isinstance(child, Tree):
                continue
            if child.data == "attribute":
                name_node, expression = child.children[0], child.children[-1]
                attributes.append(
                    Attribute(_name(name_node), name_node.meta.line, self.source(expression), self.value(expression))
                )
            elif child.data == "block":
                blocks.append(self.block(child))
        return tuple(attributes), tuple(blocks)

    def block(self, node: Tree[Any]) -> Block:
        head, *rest = node.children
        labels: list[str | None] = []
        inner: Tree[Any] | None = None
        for child in rest:
            if isinstance(child, Tree) and child.data == "body":
                inner = child
            elif isinstance(child, Tree) and child.data == "string":
                label = self.value(child)
                labels.append(label if isinstance(label, str) else None)
            elif isinstance(child, Tree) and child.data in ("identifier", "keyword", "literal_value"):
                labels.append(_name(child))
        attributes, blocks = self.body(inner) if inner is not None else ((), ())
        return Block(_name(head), tuple(labels), head.meta.line, attributes, blocks)

    def value(self, node: Tree[Any] | Token) -> Value:
        """The literal value of an expression node, or NOT_LITERAL."""
        if not isinstance(node, Tree):
            return NOT_LITERAL
        data = node.data
        children = [child for child in node.children if not _is_filler(child)]
        if data == "expr_term":
            inner = [child for child in children if isinstance(child, Tree)]
            return self.value(inner[0]) if len(inner) == 1 else NOT_LITERAL
        if data == "int_lit":
            return int(str(children[0]))
        if data == "float_lit":
            number = float(str(children[0]))
            return number if number not in (float("inf"), float("-inf")) else NOT_LITERAL
        if data == "literal_value":
            return _LITERALS[str(children[0])]
        if data == "string":
            return self.string(children[1:-1])
        if data in ("heredoc_template", "heredoc_template_trim"):
            return _heredoc(str(children[0]))
        if data == "tuple":
            items = [self.value(child) for child in children if isinstance(child, Tree)]
            return NOT_LITERAL if any(item is NOT_LITERAL for item in items) else items  # type: ignore[return-value]
        if data == "object":
            return self.mapping([child for child in children if isinstance(child, Tree)])
        if data == "unary_op" and str(children[0]) == "-":
            operand = self.value(children[1])
            return -operand if type(operand) in (int, float) else NOT_LITERAL  # type: ignore[operator]
        return NOT_LITERAL

    def string(self, parts: list[Tree[Any] | Token]) -> Value:
        chunks: list[str] = []
        for part in parts:
            piece = part.children[0] if isinstance(part, Tree) and part.children else part
            if not isinstance(piece, Token):
                return NOT_LITERAL  # an interpolation or a directive
            if piece.type == "STRING_CHARS":
                chunks.append(unescape_lenient(str(piece)))
            elif piece.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                chunks.append(str(piece)[1:])
            else:
                return NOT_LITERAL
        return "".join(chunks)

    def mapping(self, elements: list[Tree[Any]]) -> Value:
        result: dict[str, JsonValue] = {}
        for element in elements:
            parts = [child for child in element.children if isinstance(child, Tree)]
            key_node, value_node = parts[0], parts[-1]
            key = self.key(key_node)
            value = self.value(value_node)
            if not isinstance(key, str) or value is NOT_LITERAL:
                return NOT_LITERAL
            result[key] = value  # type: ignore[assignment]
        return result

    def key(self, node: Tree[Any]) -> Value:
        inner = node.children[0]
        if isinstance(inner, Tree) and inner.data == "keyword":
            return _name(inner)
        if isinstance(inner, Tree) and inner.data == "expr_term":
            term = inner.children[0]
            if isinstance(term, Tree) and term.data == "identifier":
                return _name(term)
            if isinstance(term, Tree) and term.data == "string":
                return self.value(term)
        return NOT_LITERAL


def _end(node: Tree[Any], default: int) -> int:
    for child in reversed(node.children):
        if _is_filler(child) or (isinstance(child, Token) and child.type == "NL_OR_COMMENT"):
            continue
        if isinstance(child, Token):
            return child.end_pos if child.end_pos is not None else default
        return _end(child, child.meta.end_pos)
    return default


def _name(node: Tree[Any] | Token) -> str:
    return str(node.children[0]) if isinstance(node, Tree) else str(node)


def _is_filler(child: Tree[Any] | Token) -> bool:
    return isinstance(child, Tree) and child.data == "new_line_or_comment"


def _heredoc(token_text: str) -> Value:
    try:
        value = heredoc_value(token_text)
    except LexError:
        return NOT_LITERAL
    if isinstance(value, Template):
        return NOT_LITERAL
    return value
