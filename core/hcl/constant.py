"""The value of a constant HCL expression, as Terraform computes it: ``60 * 60`` is 3600.

Terraform accepts in a variable's ``default`` any expression without references or function calls. This
evaluates the constant ones the readers do not fold: numbers with ``+ - * / %``, unary ``-`` and ``!``,
comparisons, ``&&``/``||``, ``? :``, parentheses, strings without interpolation, and tuples and objects of
constants. Anything else (a reference, a call, a template, a division by zero) is NOT_LITERAL.
"""

from __future__ import annotations

import math
from typing import Any

from core.hcl.lexer import LexError, Template, Token, tokenize
from core.hcl.tree import NOT_LITERAL, JsonValue, Value

_PRECEDENCE = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4,
               "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_NAMES: dict[str, JsonValue] = {"true": True, "false": False, "null": None}


class _NotConstant(Exception):
    pass


def constant_value(text: str) -> Value:
    """The value of one expression's source text, or NOT_LITERAL when it is not a constant."""
    try:
        tokens, _ = tokenize(text)
    except LexError:
        return NOT_LITERAL
    evaluator = _Evaluator([token for token in tokens if token[0] != "nl"])
    try:
        value = evaluator.expression()
        if evaluator.peek() != "eof":
            return NOT_LITERAL
    except (_NotConstant, IndexError, RecursionError):
        return NOT_LITERAL
    return value


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _number(value: float) -> int | float:
    """Terraform has one number type: an integral result is shown as an integer."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _arithmetic(op: str, left: Any, right: Any) -> int | float:
    if not (_is_number(left) and _is_number(right)):
        raise _NotConstant
    if op == "+":
        return _number(left + right)
    if op == "-":
        return _number(left - right)
    if op == "*":
        return _number(left * right)
    if right == 0:
        raise _NotConstant  # Terraform: "Division by zero"
    if op == "/":
        if isinstance(left, int) and isinstance(right, int) and left % right == 0:
            return left // right
        return _number(left / right)
    if isinstance(left, int) and isinstance(right, int):  # the remainder takes the sign of the dividend
        remainder = abs(left) % abs(right)
        return remainder if left >= 0 else -remainder
    return _number(math.fmod(left, right))


def _binary(op: str, left: Any, right: Any) -> JsonValue:
    if op in ("==", "!="):
        numbers = _is_number(left) and _is_number(right)
        same = bool(left == right) and (numbers or type(left) is type(right))
        return same == (op == "==")
    if op in ("&&", "||"):
        if not (isinstance(left, bool) and isinstance(right, bool)):
            raise _NotConstant
        return bool(left and right) if op == "&&" else bool(left or right)
    if op in ("<", ">", "<=", ">="):
        if not (_is_number(left) and _is_number(right)):
            raise _NotConstant
        return bool({"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op])
    return _arithmetic(op, left, right)


class _Evaluator:
    __slots__ = ("i", "tokens")

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> str:
        return self.tokens[self.i][0]

    def take(self, kind: str) -> Token:
        token = self.tokens[self.i]
        if token[0] != kind:
            raise _NotConstant
        self.i += 1
        return token

    def expression(self) -> JsonValue:
        condition = self.binary(1)
        if self.peek() != "?":
            return condition
        self.i += 1
        yes = self.expression()
        self.take(":")
        no = self.expression()
        if not isinstance(condition, bool):
            raise _NotConstant
        return yes if condition else no

    def binary(self, lowest: int) -> JsonValue:
        left = self.unary()
        while True:
            op = self.peek()
            precedence = _PRECEDENCE.get(op)
            if precedence is None or precedence < lowest:
                return left
            self.i += 1
            left = _binary(op, left, self.binary(precedence + 1))

    def unary(self) -> JsonValue:
        op = self.peek()
        if op == "-":
            self.i += 1
            value = self.unary()
            if not _is_number(value):
                raise _NotConstant
            return -value  # type: ignore[operator]
        if op == "!":
            self.i += 1
            value = self.unary()
            if not isinstance(value, bool):
                raise _NotConstant
            return not value
        return self.primary()

    def primary(self) -> JsonValue:
        kind, _start, _end, value = self.tokens[self.i]
        self.i += 1
        if kind == "num":
            return value  # type: ignore[no-any-return]
        if kind == "str" and not isinstance(value, Template):
            return value  # type: ignore[no-any-return]
        if kind == "name" and value in _NAMES and self.peek() not in ("(", "::", ".", "["):
            return _NAMES[value]
        if kind == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind == "[":
            return self.sequence()
        if kind == "{":
            return self.mapping()
        raise _NotConstant

    def sequence(self) -> JsonValue:
        items: list[JsonValue] = []
        while self.peek() != "]":
            items.append(self.expression())
            if self.peek() != ",":
                break
            self.i += 1
        self.take("]")
        return items

    def mapping(self) -> JsonValue:
        result: dict[str, JsonValue] = {}
        while self.peek() != "}":
            kind, _start, _end, value = self.tokens[self.i]
            if kind in ("name", "str") and self.tokens[self.i + 1][0] in ("=", ":"):
                self.i += 1
                key: JsonValue = value
            else:
                key = self.expression()
            if not isinstance(key, str):
                raise _NotConstant
            if self.peek() not in ("=", ":"):
                raise _NotConstant
            self.i += 1
            result[key] = self.expression()
            if self.peek() == ",":
                self.i += 1
        self.take("}")
        return result
