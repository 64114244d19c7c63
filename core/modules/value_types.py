"""Terraform type expressions, and checking a value typed into a form against one.

``parse_type("object({name = string, size = optional(number)})")`` gives a small tree; ``check(tree, value)``
converts a JSON value the way Terraform would (``"3"`` is a fine number, ``1`` a fine string) or raises
``TypeMismatch`` saying where and why, so a form can show the error on its field. Like Terraform, a missing
or null optional object attribute becomes its ``optional(type, default)`` default, else null.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from core.hcl.display import quoted
from core.hcl.evaluate import constant_value
from core.hcl.tree import NOT_LITERAL

PRIMITIVES = ("string", "number", "bool", "any")
COLLECTIONS = ("list", "set", "map")
TOKEN = re.compile(r'\s*(?:[A-Za-z_][A-Za-z0-9_-]*|"(?:[^"\\\n]|\\.)*"|\S)')


class TypeMismatch(ValueError):
    """A value does not fit a type; ``where`` is a path like ``zones[2]`` or ``labels.owner``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where, self.message = where, message


@dataclass(frozen=True)
class TfType:
    """A type: a primitive, a collection of ``element``, a tuple of ``items`` or an object of ``attributes``."""

    kind: str
    element: TfType | None = None
    items: tuple[TfType, ...] = ()
    attributes: dict[str, tuple[TfType, bool]] = field(default_factory=dict)  # name -> (type, optional)
    defaults: dict[str, Any] = field(default_factory=dict)  # optional attribute -> its optional() default

    def describe(self) -> str:
        """The type as Terraform writes it, e.g. ``list(string)`` or ``object({a = optional(number)})``."""
        if self.kind in PRIMITIVES:
            return self.kind
        if self.kind in COLLECTIONS and self.element is not None:
            return f"{self.kind}({self.element.describe()})"
        if self.kind == "tuple":
            return "tuple([" + ", ".join(i.describe() for i in self.items) + "])"
        inner = ", ".join(f"{k} = " + (f"optional({t.describe()})" if opt else t.describe())
                          for k, (t, opt) in self.attributes.items())
        return "object({" + inner + "})"


ANY = TfType("any")


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        matches = [m for m in TOKEN.finditer(text) if m.group().strip()]
        self.tokens = [m.group().strip() for m in matches]
        self.ends = [m.end() for m in matches]
        self.at = 0

    def peek(self) -> str:
        return self.tokens[self.at] if self.at < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if not token or (expected is not None and token != expected):
            raise ValueError(f"expected {expected or 'a type'}, found {token or 'the end'}")
        self.at += 1
        return token

    def type(self) -> TfType:
        name = self.take()
        if name in PRIMITIVES:
            return TfType(name)
        self.take("(")
        if name in COLLECTIONS:
            element = self.type()
            self.take(")")
            return TfType(name, element=element)
        if name == "tuple":
            self.take("[")
            items = []
            while self.peek() != "]":
                items.append(self.type())
                if self.peek() == ",":
                    self.take(",")
            self.take("]")
            self.take(")")
            return TfType("tuple", items=tuple(items))
        if name == "object":
            self.take("{")
            attributes: dict[str, tuple[TfType, bool]] = {}
            defaults: dict[str, Any] = {}
            while self.peek() != "}":
                key = self.take()
                self.take("=")
                optional = self.peek() == "optional"
                if optional:
                    self.take("optional")
                    self.take("(")
                    attribute_type = self.type()
                    attributes[key] = (attribute_type, True)
                    if self.peek() == ",":
                        defaults[key] = self.optional_default(attribute_type)
                    self.take(")")
                else:
                    attributes[key] = (self.type(), False)
                if self.peek() == ",":
                    self.take(",")
            self.take("}")
            self.take(")")
            return TfType("object", attributes=attributes, defaults=defaults)
        raise ValueError(f"unknown type {name}")

    def optional_default(self, attribute_type: TfType) -> Any:
        """The constant after ``optional(type,``, converted to the type; ValueError when it is not one."""
        start = self.ends[self.at]  # just after the comma
        self.take(",")
        depth = 0
        while self.peek() and not (self.peek() == ")" and depth == 0):
            depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(self.take(), 0)
        end = self.ends[self.at - 1] if self.at > 0 else start
        value = constant_value(self.text[start:end])
        if value is NOT_LITERAL:
            raise ValueError("an optional() default that is not a constant")
        try:
            return check(attribute_type, value)
        except TypeMismatch as error:
            raise ValueError(str(error)) from None


def parse_type(text: str) -> TfType:
    """The tree of a type expression; ``any`` when the text cannot be read (Terraform will check it)."""
    try:
        reader = _Reader(text or "any")
        parsed = reader.type()
        return parsed if not reader.peek() else ANY
    except ValueError:
        return ANY


def check(tf_type: TfType, value: Any, where: str = "", *, drop_unknown: bool = False) -> Any:
    """``value`` converted to ``tf_type`` as Terraform converts it; raises TypeMismatch.

    An object attribute the type does not have is refused (a typo on a form), or with ``drop_unknown`` dropped,
    as Terraform drops it from a variable's default.
    """
    if value is None:
        return None
    kind = tf_type.kind
    if kind == "any":
        return value
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float, Decimal)):
            return str(value)
        raise TypeMismatch(where, "should be text")
    if kind == "number":
        return _number(value, where)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TypeMismatch(where, "should be true or false")
    if kind in ("list", "set", "tuple"):
        if not isinstance(value, list):
            raise TypeMismatch(where, f"should be a list like [\"a\", \"b\"] ({tf_type.describe()})")
        if kind == "tuple":
            if len(value) != len(tf_type.items):
                raise TypeMismatch(where, f"should have {len(tf_type.items)} items")
            return [check(t, v, f"{where}[{i}]", drop_unknown=drop_unknown)
                    for i, (t, v) in enumerate(zip(tf_type.items, value, strict=True))]
        return [check(tf_type.element or ANY, v, f"{where}[{i}]", drop_unknown=drop_unknown)
                for i, v in enumerate(value)]
    if not isinstance(value, dict):
        raise TypeMismatch(where, f"should be an object like {{\"key\": \"value\"}} ({tf_type.describe()})")
    if kind == "map":
        return {str(k): check(tf_type.element or ANY, v, f"{where}.{k}" if where else str(k), drop_unknown=drop_unknown)
                for k, v in value.items()}
    unknown = sorted(set(value) - set(tf_type.attributes))
    if unknown and not drop_unknown:
        raise TypeMismatch(where, f"has no attribute {quoted(unknown[0])}")
    result = {}
    for key, (attr_type, optional) in tf_type.attributes.items():
        path = f"{where}.{key}" if where else key
        if value.get(key) is None and optional:
            result[key] = tf_type.defaults.get(key)
            continue
        if key not in value:
            raise TypeMismatch(path, "is required")
        result[key] = check(attr_type, value[key], path, drop_unknown=drop_unknown)
    return result


def _number(value: Any, where: str) -> int | float:
    if isinstance(value, bool):
        raise TypeMismatch(where, "should be a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise TypeMismatch(where, "should be a number") from None
    if not number.is_finite():
        raise TypeMismatch(where, "should be a finite number")
    return int(number) if number == number.to_integral_value() else float(number)


def from_text(tf_type: TfType, kind: str, text: str) -> Any:
    """A form field's text as a value of ``tf_type``: JSON for lists, maps and objects."""
    stripped = text.strip()
    if kind == "json" or tf_type.kind in ("list", "set", "tuple", "map", "object"):
        try:
            return check(tf_type, json.loads(stripped))
        except json.JSONDecodeError as error:
            raise TypeMismatch("", f"is not valid JSON ({error.msg} at character {error.pos + 1})") from None
    return check(tf_type, stripped)
