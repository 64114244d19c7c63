"""RAD's metadata variables (``module_description``, ``credit_cost``...) read and checked from their defaults.

Values Terraform itself would convert are accepted: a numeric string for ``credit_cost`` and ``"true"``/
``"false"`` for the flags. A metadata variable must have a default (it is never asked for on a form, so
Terraform would otherwise stop for a missing value); ``default = null`` means the platform default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from core.hcl.display import quoted
from core.hcl.tree import JsonValue
from core.modules.model import ParseProblem, Variable

METADATA_NAMES = frozenset({
    "module_description", "module_documentation", "credit_cost", "require_credit_purchases", "public_access",
    "module_dependency",
})
MAX_CREDIT_COST = Decimal(10) ** 14  # the catalog stores Numeric(18, 4)
CREDIT_QUANTUM = Decimal("0.0001")
MAX_URL_LENGTH = 500


@dataclass(frozen=True)
class Metadata:
    """The catalog values of one module, with the platform defaults for what it does not declare."""

    description: str = ""
    documentation: str = ""
    credit_cost: Decimal = Decimal(0)
    require_credit_purchases: bool = False
    public_access: bool = False
    dependencies: tuple[str, ...] = ()


class MetadataError(Exception):
    """Metadata variables with unusable defaults; ``problems`` names each file and line."""

    def __init__(self, problems: list[ParseProblem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = tuple(problems)


class _Bad(Exception):
    pass


def read_metadata(module: str, variables: Mapping[str, Variable]) -> Metadata:
    """Metadata from the declared metadata variables (name -> variable); :class:`MetadataError` if any is bad."""
    values: dict[str, object] = {}
    problems: list[ParseProblem] = []
    for name, variable in variables.items():
        try:
            if not variable.has_default:
                raise _Bad("needs a default value (metadata variables are never asked for on a form)")
            values[name] = _READERS[name](variable, module)
        except _Bad as error:
            problems.append(ParseProblem(variable.file, variable.line, f'metadata variable "{name}" {error}'))
    if problems:
        raise MetadataError(problems)
    return Metadata(
        description=str(values.get("module_description", "")),
        documentation=str(values.get("module_documentation", "")),
        credit_cost=values.get("credit_cost", Decimal(0)),  # type: ignore[arg-type]
        require_credit_purchases=bool(values.get("require_credit_purchases", False)),
        public_access=bool(values.get("public_access", False)),
        dependencies=values.get("module_dependency", ()),  # type: ignore[arg-type]
    )


def _text(variable: Variable, _module: str) -> str:
    if variable.default is None:
        return ""
    if not isinstance(variable.default, str):
        raise _Bad(f"must be a string, not {variable.default_text}")
    return variable.default.strip()


def _url(variable: Variable, module: str) -> str:
    url = _text(variable, module)
    if url and (not url.startswith(("https://", "http://")) or any(char.isspace() for char in url)):
        raise _Bad(f"must be an http(s) URL, not {quoted(url)}")
    if len(url) > MAX_URL_LENGTH:
        raise _Bad(f"is {len(url)} characters long; the limit is {MAX_URL_LENGTH}")
    return url


def _credit_cost(variable: Variable, _module: str) -> Decimal:
    default: JsonValue = variable.default
    if default is None:
        return Decimal(0)
    if isinstance(default, bool) or not isinstance(default, int | float | str):
        raise _Bad(f"must be a number, not {variable.default_text}")
    written = variable.default_text.replace(" ", "") if not isinstance(default, str) else default.strip()
    try:
        cost = Decimal(written)
    except InvalidOperation:
        if isinstance(default, str):
            raise _Bad(f"must be a number, not {variable.default_text}") from None
        cost = Decimal(repr(default))  # an unusual spelling such as (50); the float is exact enough here
    if not cost.is_finite() or cost < 0:
        raise _Bad(f"must be a number of credits of 0 or more, not {variable.default_text}")
    if cost >= MAX_CREDIT_COST or cost != cost.quantize(CREDIT_QUANTUM):
        raise _Bad(f"must be below {MAX_CREDIT_COST:,} with at most 4 decimal places, not {variable.default_text}")
    return cost.quantize(Decimal(1)) if cost == cost.to_integral_value() else cost.normalize()


def _flag(variable: Variable, _module: str) -> bool:
    default = variable.default
    if default is None:
        return False
    if isinstance(default, bool):
        return default
    if default in ("true", "false"):
        return default == "true"
    raise _Bad(f"must be true or false, not {variable.default_text}")


def _dependencies(variable: Variable, module: str) -> tuple[str, ...]:
    default = variable.default
    if default is None:
        return ()
    if not isinstance(default, list) or not all(isinstance(item, str) and item.strip() for item in default):
        raise _Bad(f"must be a list of module names, not {variable.default_text}")
    names = tuple(dict.fromkeys(item.strip() for item in default if isinstance(item, str)))
    if module in names:
        raise _Bad(f"lists the module itself ({quoted(module)})")
    return names


_READERS = {
    "module_description": _text,
    "module_documentation": _url,
    "credit_cost": _credit_cost,
    "require_credit_purchases": _flag,
    "public_access": _flag,
    "module_dependency": _dependencies,
}
