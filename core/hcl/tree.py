"""The small syntax tree both HCL readers produce: blocks and attributes with source text and literal values.

Only what the module parser needs is kept: every attribute's expression as source text, its line, and its
value when the expression is a constant literal (strings, numbers, bools, null, tuples and objects of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"


class NotLiteral:
    """The value of an expression that is not a constant literal (a reference, call, template...)."""

    _instance: NotLiteral | None = None

    def __new__(cls) -> NotLiteral:
        """The one instance, :data:`NOT_LITERAL`."""
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_LITERAL"


NOT_LITERAL: Final = NotLiteral()
Value: TypeAlias = "JsonValue | NotLiteral"


@dataclass(frozen=True, slots=True)
class Attribute:
    """``name = expression``; ``text`` is the expression's source, ``value`` its literal value or NOT_LITERAL."""

    name: str
    line: int
    text: str
    value: Value


@dataclass(frozen=True, slots=True)
class Block:
    """``type "label" ... { body }`` with its attributes and nested blocks in source order."""

    type: str
    labels: tuple[str | None, ...]  # None for a label that is not a literal string
    line: int
    attributes: tuple[Attribute, ...]
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Body:
    """A whole file: its top-level attributes and blocks."""

    attributes: tuple[Attribute, ...]
    blocks: tuple[Block, ...]


class HclSyntaxError(Exception):
    """A file that is not valid HCL: the 1-based line and a short reason."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason
