"""Terraform type expressions and values typed into deploy forms."""

from __future__ import annotations

import pytest

from core.modules.value_types import ANY, TypeMismatch, check, from_text, parse_type


@pytest.mark.parametrize("text", [
    "string", "number", "bool", "list(string)", "set(number)", "map(number)", "tuple([string, number])",
    "object({name = string, size = optional(number)})", "list(object({zone = string, count = number}))",
])
def test_types_read_back_as_written(text: str) -> None:
    assert parse_type(text).describe() == text


def test_unreadable_types_are_left_to_terraform() -> None:
    assert parse_type("list(") is ANY and parse_type("strange") is ANY
    assert parse_type("object({a = optional(string, \"x\")})").attributes["a"][1] is True


@pytest.mark.parametrize(("type_text", "kind", "text", "value"), [
    ("string", "text", " eu-west1 ", "eu-west1"),
    ("number", "number", "3", 3),
    ("number", "number", "2.5", 2.5),
    ("bool", "bool", "true", True),
    ("list(string)", "json", '["a", 1]', ["a", "1"]),
    ("map(number)", "json", '{"a": "2"}', {"a": 2}),
    ("object({name = string, size = optional(number)})", "json", '{"name": "x"}', {"name": "x", "size": None}),
    ('object({name = string, size = optional(number, 3)})', "json", '{"name": "x", "size": null}',
     {"name": "x", "size": 3}),
])
def test_values_convert_as_terraform_converts(type_text: str, kind: str, text: str, value: object) -> None:
    assert from_text(parse_type(type_text), kind, text) == value


@pytest.mark.parametrize(("type_text", "text", "message"), [
    ("number", "ten", "should be a number"),
    ("bool", "maybe", "should be true or false"),
    ("list(string)", '{"a": 1}', "should be a list"),
    ("list(number)", '[1, "x"]', "[1]: should be a number"),
    ("object({name = string})", '{"nom": "x"}', 'has no attribute "nom"'),
    ("object({name = string, size = number})", '{"name": "x"}', "size: is required"),
    ("map(string)", "{not json", "is not valid JSON"),
])
def test_mismatches_say_where_and_why(type_text: str, text: str, message: str) -> None:
    with pytest.raises(TypeMismatch, match=message.replace("[", r"\[").replace("]", r"\]")):
        from_text(parse_type(type_text), "json" if "(" in type_text else type_text, text)


def test_null_passes_through() -> None:
    assert check(parse_type("string"), None) is None


def test_optional_defaults_are_constants_converted_to_their_type() -> None:
    tf_type = parse_type('object({a = optional(string, "x(y)"), b = optional(list(object({n = optional(number, '
                         '60 * 60)})), [{}]), c = optional(number, "2")})')
    assert tf_type.defaults == {"a": "x(y)", "b": [{"n": 3600}], "c": 2}
    assert check(tf_type, {}) == {"a": "x(y)", "b": [{"n": 3600}], "c": 2}
    assert check(tf_type, {"b": [{"n": None}, {"n": 1}]})["b"] == [{"n": 3600}, {"n": 1}]


@pytest.mark.parametrize("text", ['object({a = optional(string, var.x)})', 'object({a = optional(number, "ten")})'])
def test_optional_defaults_terraform_would_refuse_leave_the_type_to_terraform(text: str) -> None:
    assert parse_type(text) is ANY
