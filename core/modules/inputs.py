"""A module's inputs as a deploy form: steps from UIMeta groups, widgets by type, values checked on submit.

Works on the module spec JSON the catalog stores (``Module.spec["inputs"]``), so it needs no parsing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.modules.value_types import TypeMismatch, from_text, parse_type

MASK = "••••••"


@dataclass(frozen=True)
class InputSpec:
    """One deployable variable of a module."""

    name: str
    type: str
    kind: str
    description: str
    required: bool
    sensitive: bool
    nullable: bool
    group: int
    order: int
    has_default: bool
    default: Any
    choices: tuple[str, ...]
    validations: tuple[tuple[str, str], ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InputSpec:
        return cls(
            name=str(data["name"]), type=str(data.get("type") or "any"), kind=str(data.get("kind") or "text"),
            description=str(data.get("description") or ""), required=bool(data.get("required")),
            sensitive=bool(data.get("sensitive")), nullable=bool(data.get("nullable", True)),
            group=int(data.get("group") or 0), order=int(data.get("order") or 0),
            has_default=bool(data.get("has_default", "default" in data)), default=data.get("default"),
            choices=tuple(str(c) for c in data.get("choices") or ()),
            validations=tuple((str(v[0]), str(v[1])) for v in data.get("validations") or ()),
        )

    def default_text(self) -> str:
        """The default as the form shows it (never for a sensitive input)."""
        if self.sensitive or not self.has_default or self.default is None:
            return ""
        if self.kind == "json" or isinstance(self.default, (list, dict)):
            return json.dumps(self.default)
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)


def deployable_inputs(spec: Mapping[str, Any]) -> list[InputSpec]:
    """The inputs a user fills in, in form order (group 0 holds metadata, never asked)."""
    inputs = [InputSpec.from_json(i) for i in spec.get("inputs") or [] if not i.get("hidden")]
    return sorted(inputs, key=lambda i: (i.group if i.group > 0 else 10**6, i.order or 10**6, i.name))


def sensitive_names(spec: Mapping[str, Any]) -> set[str]:
    """The names of the module's sensitive inputs: their values are sealed, masked and never shown."""
    return {str(i["name"]) for i in spec.get("inputs") or [] if i.get("sensitive")}


def steps(inputs: list[InputSpec]) -> list[list[InputSpec]]:
    """Inputs split into steps, one per UIMeta group (untagged inputs form the last step)."""
    grouped: dict[int, list[InputSpec]] = {}
    for item in inputs:
        grouped.setdefault(item.group if item.group > 0 else 10**6, []).append(item)
    return [grouped[g] for g in sorted(grouped)]


def convert(item: InputSpec, raw: Any) -> Any:
    """A submitted value as the variable's type; raises TypeMismatch with a message for the field.

    An empty answer means the default (or null when there is none and the variable is optional).
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if item.required:
            raise TypeMismatch("", "is required")
        return item.default if item.has_default else None
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, tuple):
        text = json.dumps(list(raw))
    else:
        text = str(raw)
    value = from_text(parse_type(item.type), item.kind, text)
    if item.choices and value not in item.choices:
        raise TypeMismatch("", "must be one of " + ", ".join(item.choices))
    return value


def check_values(items: list[InputSpec], raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Converted values and, per field, what is wrong (empty when all is well)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for item in items:
        try:
            values[item.name] = convert(item, raw.get(item.name))
        except TypeMismatch as problem:
            where = f" ({problem.where})" if problem.where else ""
            errors[item.name] = f"{item.name}{where} {problem.message}"
    return values, errors


def shown(item: InputSpec, value: Any) -> str:
    """A value as a confirmation shows it: sensitive ones masked."""
    if item.sensitive:
        return MASK
    return json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else str(value)
