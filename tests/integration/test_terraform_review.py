"""The runner's review phases on the real embedded engine in the real sandbox: a plan kept for review (its file,
its human text with secrets masked, the resources named), then exactly that plan applied; a saved plan whose
state moved is refused by Terraform itself."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from core.deployments.review import state_version
from core.errors import InvalidInput
from core.terraform.backend import MemoryStateStore
from core.terraform.launch import Terraform
from core.terraform.output import ResourceChange
from core.terraform.runner import RunStatus, prepare_workdir, run
from tests.integration.test_terraform import RESOURCE_MODULE, data_dir, embedded, everything

__all__ = ["data_dir", "embedded"]

SECRET = "plan-review-s3cret-horse"


def test_a_kept_plan_is_applied_exactly_and_never_twice(embedded: Terraform, data_dir: Path) -> None:
    files = {"main.tf": RESOURCE_MODULE}
    store = MemoryStateStore()
    values = {"name": "a", "secret": SECRET}
    created = run(embedded, prepare_workdir(data_dir, "rev-1", files), "create", values, {"secret"}, 60, state=store)
    assert created.ok, created.log
    before = store.state
    planned_on = state_version(before)
    assert planned_on.serial is not None and planned_on.lineage

    planned = run(embedded, prepare_workdir(data_dir, "rev-2", files), "update", {**values, "name": "b"},
                  {"secret"}, 60, state=store, phase="plan")
    assert planned.ok and planned.saved_plan, planned.log
    assert [s.name for s in planned.steps] == ["version", "init", "plan", "show", "show"]
    assert planned.plan is not None and planned.plan.text == "0 to add, 1 to change, 0 to destroy"
    assert planned.plan.changes == (ResourceChange("terraform_data.thing", "update"),)
    assert "terraform_data.thing" in planned.plan_text and '"a" -> "b"' in planned.plan_text
    signature = hashlib.sha256(SECRET.encode()).hexdigest()
    for text in (planned.plan_text, everything(planned)):
        assert SECRET not in text and signature not in text
    assert "saved_plan" not in repr(planned)  # the plan file (it holds the secret) is never in a repr
    assert store.state == before  # planning wrote no state

    applied = run(embedded, prepare_workdir(data_dir, "rev-3", files), "update", {**values, "name": "ignored"},
                  {"secret"}, 60, state=store, phase="apply", saved_plan=planned.saved_plan)
    assert applied.ok, applied.log
    assert [s.name for s in applied.steps] == ["version", "init", "apply", "output"]  # no new plan
    assert applied.outputs == {"name": "b"}  # what the reviewed plan said, whatever the var file holds now
    assert state_version(store.state).serial != planned_on.serial

    again = run(embedded, prepare_workdir(data_dir, "rev-4", files), "update", values, {"secret"}, 60,
                state=store, phase="apply", saved_plan=planned.saved_plan)
    assert again.status is RunStatus.FAILURE and "stale" in again.error.lower(), again.log
    assert SECRET not in everything(again)


def test_an_apply_phase_needs_its_saved_plan(embedded: Terraform, data_dir: Path) -> None:
    workdir = prepare_workdir(data_dir, "rev-5", {"main.tf": RESOURCE_MODULE})
    with pytest.raises(InvalidInput, match="saved plan"):
        run(embedded, workdir, "update", {}, set(), 60, state=MemoryStateStore(), phase="apply")
    with pytest.raises(InvalidInput, match="saved plan"):
        run(embedded, workdir, "update", {}, set(), 60, state=MemoryStateStore(), saved_plan=b"plan")
