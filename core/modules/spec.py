"""The one way to read a stored module spec (``Module.spec``, a candidate's ``spec``): :func:`load_spec`.

The JSON is :meth:`ModuleSpec.to_json` with a ``version`` (:data:`SPEC_VERSION`). Older stored specs are migrated
here, on every load, without touching the database:

- version 1 (no ``version`` field, written before specs were versioned, sometimes partial): missing fields take
  their defaults and each input's default is converted to its type as Terraform converts it (optional object
  attributes filled in, ``"3"`` for a number read as 3). What only a fresh parse can add (constant-expression
  defaults, duplicate checks) comes with the next scan, which re-parses every file (parser version 3).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from core.modules.model import SPEC_VERSION, ModuleSpec
from core.modules.value_types import TypeMismatch, check, parse_type

__all__ = ["SPEC_VERSION", "load_spec"]

_VARIABLE_DEFAULTS: dict[str, Any] = {
    "type": "any", "description": "", "default": None, "default_text": "", "sensitive": False, "nullable": True,
    "validations": [], "group": None, "order": None, "ui_flags": [], "file": "", "line": 0,
}
_OUTPUT_DEFAULTS: dict[str, Any] = {"description": "", "sensitive": False, "file": "", "line": 0}
_SPEC_DEFAULTS: dict[str, Any] = {
    "name": "", "description": "", "documentation": "", "credit_cost": "0", "require_credit_purchases": False,
    "public_access": False, "dependencies": [], "inputs": [], "outputs": [], "files": [], "declared": [],
}


def load_spec(data: Mapping[str, Any] | None) -> ModuleSpec:
    """The typed spec of stored JSON of any version (None or ``{}``: a module with nothing declared).

    Raises ValueError for the JSON of an invalid module or of a newer version than this code knows.
    """
    if not data:
        return ModuleSpec(name="")
    if data.get("valid") is False:
        raise ValueError(f"the stored spec of {data.get('name')!r} is an invalid module, not a spec")
    version = data.get("version", 1)
    if not isinstance(version, int) or version > SPEC_VERSION:
        raise ValueError(f"a module spec of version {version!r}; this code reads up to {SPEC_VERSION}")
    current = dict(data) if version == SPEC_VERSION else _from_version_1(data)
    return ModuleSpec.from_json(current)


def _from_version_1(data: Mapping[str, Any]) -> dict[str, Any]:
    migrated: dict[str, Any] = {**_SPEC_DEFAULTS, **data, "version": SPEC_VERSION}
    migrated["credit_cost"] = str(migrated["credit_cost"] or "0")
    migrated["inputs"] = [_variable_from_version_1(item) for item in migrated["inputs"] or []]
    migrated["outputs"] = [{**_OUTPUT_DEFAULTS, **item} for item in migrated["outputs"] or []]
    return migrated


def _variable_from_version_1(item: Mapping[str, Any]) -> dict[str, Any]:
    has_default = "default" in item or item.get("required") is False
    variable: dict[str, Any] = {**_VARIABLE_DEFAULTS, "has_default": has_default, **item}
    if variable["has_default"] and variable["default"] is not None:
        with contextlib.suppress(TypeMismatch):  # else as stored; the next scan refuses it as Terraform would
            variable["default"] = check(parse_type(variable["type"]), variable["default"], drop_unknown=True)
    return variable
