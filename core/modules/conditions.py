"""A variable's ``validation`` conditions, checked on a form value before the next step (no Terraform run).

The evaluation is :mod:`core.hcl.evaluate`'s; a condition it cannot decide is left to Terraform at plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.hcl.evaluate import UNKNOWN, Unknown, evaluate_condition

__all__ = ["UNKNOWN", "evaluate", "failed_messages"]


def evaluate(condition: str, name: str, value: Any) -> bool | Unknown:
    """Whether ``condition`` holds when ``var.<name>`` is ``value``: True, False, or UNKNOWN."""
    return evaluate_condition(condition, {name: value})


def failed_messages(conditions: Mapping[str, str], name: str, value: Any) -> list[str]:
    """The error messages of the conditions (text → message) that ``value`` of ``var.<name>`` fails."""
    return [message for condition, message in conditions.items() if evaluate(condition, name, value) is False]
