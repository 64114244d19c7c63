"""A module's inputs as a deploy form: steps from UIMeta groups, widgets by type, values checked on submit.

Works on the typed spec (:func:`core.modules.spec.load_spec` of ``Module.spec``): each input is the parser's
:class:`~core.modules.model.Variable`, so no field is read from JSON here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeAlias

from core.hcl.display import hcl_value
from core.modules.model import ModuleSpec, Variable
from core.modules.spec import load_spec
from core.modules.value_types import TypeMismatch, from_text, parse_type

MASK = "••••••"
LAST = 1 << 30  # the step of untagged inputs: after every UIMeta group
InputSpec: TypeAlias = Variable  # the name callers used before the spec was typed


def _typed(spec: ModuleSpec | Mapping[str, Any] | None) -> ModuleSpec:
    return spec if isinstance(spec, ModuleSpec) else load_spec(spec)


def deployable_inputs(spec: ModuleSpec | Mapping[str, Any] | None) -> list[Variable]:
    """The inputs a user fills in, in form order (group 0 holds metadata and platform wiring, never asked).

    Like :func:`sensitive_names`, takes the stored JSON too (loaded with :func:`load_spec`).
    """
    return sorted((variable for variable in _typed(spec).inputs if not variable.hidden), key=lambda v: v.sort_key)


def sensitive_names(spec: ModuleSpec | Mapping[str, Any] | None) -> set[str]:
    """The names of the module's sensitive inputs: their values are sealed, masked and never shown."""
    return {variable.name for variable in _typed(spec).inputs if variable.sensitive}


def steps(inputs: list[Variable]) -> list[list[Variable]]:
    """Inputs split into steps, one per UIMeta group (untagged inputs form the last step)."""
    grouped: dict[int, list[Variable]] = {}
    for item in inputs:
        grouped.setdefault(item.group if item.group is not None and item.group > 0 else LAST, []).append(item)
    return [grouped[g] for g in sorted(grouped)]


def default_shown(item: Variable) -> str:
    """The default as the form shows it: as Terraform converted it, JSON for collections; never a sensitive one."""
    if item.sensitive or not item.has_default or item.default is None:
        return ""
    if item.kind == "json" or isinstance(item.default, (list, dict)):
        return json.dumps(item.default)
    if isinstance(item.default, bool):
        return "true" if item.default else "false"
    return str(item.default)


def convert(item: Variable, raw: Any) -> Any:
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


def check_values(items: list[Variable], raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
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


def form_text(value: Any) -> str:
    """A structured value as a form field pre-fills it: JSON, which the form reads back (unicode kept)."""
    return json.dumps(value, ensure_ascii=False)


def shown(item: Variable, value: Any) -> str:
    """A value as a confirmation shows it, written as HCL (``"rad-data"``, ``false``); sensitive ones masked."""
    if item.sensitive:
        return MASK
    return hcl_value(value)
