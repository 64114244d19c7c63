"""A module's inputs as a deploy form: steps from UIMeta groups, widgets by type, values checked on submit.

Works on the typed spec (:func:`core.modules.spec.load_spec` of ``Module.spec``): each input is the parser's
:class:`~core.modules.model.Variable`, so no field is read from JSON here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeAlias

from core.hcl.display import hcl_value
from core.modules.conditions import failed_messages
from core.modules.model import ModuleSpec, Variable
from core.modules.spec import load_spec
from core.modules.value_types import TfType, TypeMismatch, from_text, parse_type

MASK = "••••••"
LAST = 1 << 30  # the step of untagged inputs: after every UIMeta group
VALUE_MAX = 4000
"""The longest value a form field takes (Discord's text input limit; Slack's own is lower and shown there)."""
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


def steps(inputs: list[Variable], most: int | None = None) -> list[list[Variable]]:
    """Inputs split into steps, one per UIMeta group (untagged inputs form the last step).

    With ``most``, a group with more inputs than that is split into as many steps as it needs, in order.
    """
    grouped: dict[int, list[Variable]] = {}
    for item in inputs:
        grouped.setdefault(item.group if item.group is not None and item.group > 0 else LAST, []).append(item)
    found = [grouped[g] for g in sorted(grouped)]
    if most is None or most < 1:
        return found
    return [group[start:start + most] for group in found for start in range(0, len(group), most)]


def example(item: Variable) -> str:
    """A JSON value of the variable's type, to show beside a field that wants JSON: ``["text"]``, ``{"key": 1}``."""
    if item.has_default and item.default not in (None, [], {}) and not item.sensitive:
        return form_text(item.default)
    return json.dumps(_example(parse_type(item.type)))


def _example(tf_type: TfType) -> Any:
    kind = tf_type.kind
    if kind == "string":
        return "text"
    if kind == "number":
        return 1
    if kind == "bool":
        return True
    if kind in ("list", "set"):
        return [_example(tf_type.element or TfType("any"))]
    if kind == "tuple":
        return [_example(t) for t in tf_type.items]
    if kind == "map":
        return {"key": _example(tf_type.element or TfType("any"))}
    if kind == "object":
        return {name: _example(t) for name, (t, _optional) in tf_type.attributes.items()}
    return {"key": "value"}


def default_shown(item: Variable) -> str:
    """The default as the form shows it: as Terraform converted it, JSON for collections; never a sensitive one."""
    if item.sensitive or not item.has_default or item.default is None:
        return ""
    if item.kind == "json" or isinstance(item.default, (list, dict)):
        return form_text(item.default)
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
    if len(text) > VALUE_MAX:
        raise TypeMismatch("", f"is {len(text)} characters long; at most {VALUE_MAX} fit in a form field")
    value = from_text(parse_type(item.type), item.kind, text)
    if item.choices and value not in item.choices:
        raise TypeMismatch("", "must be one of " + ", ".join(item.choices))
    return value


def validation_errors(item: Variable, value: Any) -> list[str]:
    """The ``error_message`` of each of the variable's ``validation`` blocks that ``value`` fails.

    Only conditions this process can evaluate count (see :mod:`core.modules.conditions`); the others are
    left to Terraform at plan. A null value is not checked here (Terraform decides what null means).
    """
    if value is None or not item.validations:
        return []
    return failed_messages({v.condition: v.error_message for v in item.validations}, item.name, value)


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
            continue
        failed = validation_errors(item, values[item.name])
        if failed:
            errors[item.name] = " ".join(failed)
    return values, errors


def form_text(value: Any) -> str:
    """A structured value as a form field pre-fills it: JSON, which the form reads back (unicode kept)."""
    return json.dumps(value, ensure_ascii=False)


def shown(item: Variable, value: Any) -> str:
    """A value as a confirmation shows it, written as HCL (``"rad-data"``, ``false``); sensitive ones masked."""
    if item.sensitive:
        return MASK
    return hcl_value(value)
