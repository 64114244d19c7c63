"""Variables and outputs from a file's syntax tree: types as text, UIMeta tags, defaults, validations.

A default is a literal or a constant expression (``60 * 60``), converted to the declared type as Terraform
converts it (``"3"`` for a number is 3; optional object attributes filled in); one that does not fit is refused
with Terraform's reason, since Terraform refuses to load such a module.
"""

from __future__ import annotations

import re

from core.hcl.evaluate import constant_value
from core.hcl.lexer import LexError, tokenize
from core.hcl.tree import NOT_LITERAL, Attribute, Block, Body, HclSyntaxError, JsonValue
from core.modules.model import Output, Validation, Variable
from core.modules.value_types import TypeMismatch, check, parse_type

RESERVED_NAMES = frozenset({"source", "version", "providers", "count", "for_each", "lifecycle", "depends_on", "locals"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_UIMETA = re.compile(r"[ \t]*\{\{\s*UIMeta\b(?P<body>[^{}]*)\}\}")
_CLOSERS = frozenset({")", "]", "}"})
_OPENERS = frozenset({"(", "[", "{"})
_SPACED = frozenset({"=", ":", "=>", "?", "==", "!=", "&&", "||", "<", ">", "<=", ">=", "+", "*", "/", "%"})


def read_declarations(filename: str, body: Body) -> tuple[tuple[Variable, ...], tuple[Output, ...]]:
    """The file's ``variable`` and ``output`` blocks; :class:`HclSyntaxError` for one Terraform would refuse."""
    variables: list[Variable] = []
    outputs: list[Output] = []
    for block in body.blocks:
        if block.type == "variable":
            variables.append(_variable(filename, block))
        elif block.type == "output":
            outputs.append(_output(filename, block))
    return tuple(variables), tuple(outputs)


def parse_uimeta(description: str) -> tuple[str, int | None, int | None, tuple[str, ...]]:
    """Split ``{{UIMeta group=N order=M flag}}`` out of a description: (text, group, order, other words).

    The first tag counts and every tag is removed; a group or order that is not an integer is ignored.
    """
    match = _UIMETA.search(description)
    if match is None:
        return description.strip(), None, None, ()
    group = order = None
    flags: list[str] = []
    for word in match.group("body").split():
        key, _, value = word.partition("=")
        if key in ("group", "order") and re.fullmatch(r"-?[0-9]+", value):
            if key == "group":
                group = int(value)
            else:
                order = int(value)
        elif key not in ("group", "order"):
            flags.append(word)
    return _UIMETA.sub("", description).strip(), group, order, tuple(flags)


def canonical_type(text: str) -> str:
    """Type text on one line with comments dropped: ``object({name = string, size = optional(number)})``."""
    try:
        tokens, _ = tokenize(text)
    except LexError:
        return " ".join(text.split())
    pieces: list[str] = []
    openers: list[str] = []
    for kind, start, end, _value in tokens:
        if kind == "nl":
            if openers and openers[-1] == "{" and pieces and pieces[-1] not in ("{", ","):
                pieces.append(",")
            continue
        if kind == "eof":
            break
        if kind in _OPENERS:
            openers.append(kind)
        elif kind in _CLOSERS:
            if openers:
                openers.pop()
            if pieces and pieces[-1] == ",":
                pieces.pop()
        pieces.append(text[start:end])
    out: list[str] = []
    for piece in pieces:
        if out and (piece in _SPACED or out[-1] in _SPACED or out[-1] == ","
                    or (out[-1][-1:].isalnum() and piece[:1].isalnum())):
            out.append(" ")
        out.append(piece)
    return "".join(out)


def _attributes(block: Block, what: str) -> dict[str, Attribute]:
    found: dict[str, Attribute] = {}
    for attribute in block.attributes:
        if attribute.name in found:
            raise HclSyntaxError(attribute.line, f"{what}: the argument {attribute.name!r} is set twice")
        found[attribute.name] = attribute
    return found


def _label(block: Block) -> str:
    kind = block.type
    if len(block.labels) != 1 or block.labels[0] is None:
        raise HclSyntaxError(block.line, f"a {kind} block needs exactly one name, like {kind} \"name\" {{ ... }}")
    name = block.labels[0]
    if not _IDENTIFIER.fullmatch(name):
        raise HclSyntaxError(block.line, f"{kind} name {name!r} is not a valid Terraform name")
    if kind == "variable" and name in RESERVED_NAMES:
        raise HclSyntaxError(block.line, f"variable name {name!r} is reserved by Terraform")
    return name


def _string(attribute: Attribute | None, what: str) -> str:
    if attribute is None:
        return ""
    if not isinstance(attribute.value, str):
        raise HclSyntaxError(attribute.line, f"{what} must be a literal string")
    return attribute.value


def _flag(attribute: Attribute | None, what: str, default: bool) -> bool:
    if attribute is None:
        return default
    if not isinstance(attribute.value, bool):
        raise HclSyntaxError(attribute.line, f"{what} must be true or false")
    return attribute.value


def _variable(filename: str, block: Block) -> Variable:
    name = _label(block)
    what = f'variable "{name}"'
    attributes = _attributes(block, what)
    description, group, order, flags = parse_uimeta(_string(attributes.get("description"), f"{what}: description"))
    type_attribute = attributes.get("type")
    type_text = canonical_type(type_attribute.text) if type_attribute is not None else "any"
    nullable = _flag(attributes.get("nullable"), f"{what}: nullable", True)
    default_attribute = attributes.get("default")
    default: JsonValue = None
    if default_attribute is not None:
        default = _default(what, default_attribute, type_text, nullable)
    return Variable(
        name=name,
        type=type_text,
        description=description,
        has_default=default_attribute is not None,
        default=default,
        default_text=default_attribute.text if default_attribute is not None else "",
        sensitive=_flag(attributes.get("sensitive"), f"{what}: sensitive", False),
        nullable=nullable,
        validations=tuple(_validation(what, sub) for sub in block.blocks if sub.type == "validation"),
        group=group,
        order=order,
        ui_flags=flags,
        file=filename,
        line=block.line,
    )


def _default(what: str, attribute: Attribute, type_text: str, nullable: bool) -> JsonValue:
    """The default's value converted to the variable's type; :class:`HclSyntaxError` where Terraform refuses."""
    value = attribute.value if attribute.value is not NOT_LITERAL else constant_value(attribute.text)
    if value is NOT_LITERAL:
        raise HclSyntaxError(attribute.line, f"{what}: the default must be a constant value, not an expression")
    if value is None:
        if not nullable:
            raise HclSyntaxError(attribute.line, f"{what}: a null default is not valid when nullable = false")
        return None
    try:
        return check(parse_type(type_text), value, drop_unknown=True)  # type: ignore[no-any-return]
    except TypeMismatch as error:
        where = f" at {error.where}" if error.where else ""
        reason = f"{what}: the default does not fit the type {type_text}{where}: it {error.message}"
        raise HclSyntaxError(attribute.line, reason) from None


def _validation(what: str, block: Block) -> Validation:
    attributes = _attributes(block, f"{what}: validation")
    condition = attributes.get("condition")
    if condition is None:
        raise HclSyntaxError(block.line, f"{what}: a validation block needs a condition")
    message = attributes.get("error_message")
    if message is None:
        raise HclSyntaxError(block.line, f"{what}: a validation block needs an error_message")
    return Validation(condition.text, message.value if isinstance(message.value, str) else message.text)


def _output(filename: str, block: Block) -> Output:
    name = _label(block)
    what = f'output "{name}"'
    attributes = _attributes(block, what)
    if "value" not in attributes:
        raise HclSyntaxError(block.line, f"{what} needs a value")
    return Output(
        name=name,
        description=_string(attributes.get("description"), f"{what}: description"),
        sensitive=_flag(attributes.get("sensitive"), f"{what}: sensitive", False),
        file=filename,
        line=block.line,
    )
