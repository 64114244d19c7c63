"""Plan review's pure parts: which state a plan was made on, the resources a review message names, its buttons."""

from __future__ import annotations

import json

from commands.views.review import SHOWN_CHANGES, plan_lines, review_buttons
from core.deployments.review import StateVersion, state_version
from core.terraform.output import PlanSummary, ResourceChange
from storage.models import DeploymentRun


def test_the_state_a_plan_was_made_on() -> None:
    state = json.dumps({"version": 4, "serial": 7, "lineage": "abc-123", "resources": []}).encode()
    assert state_version(state) == StateVersion(7, "abc-123")
    assert state_version(None) == StateVersion(None, "") == state_version(b"")
    assert state_version(b"not json") == StateVersion(None, "")
    assert state_version(b'{"serial": "7", "lineage": 5}') == StateVersion(None, "")  # wrong types are unknown
    assert state_version(b"[1, 2]") == StateVersion(None, "")


def test_a_review_names_the_resources_up_to_a_limit_and_says_when_outputs_change() -> None:
    many = tuple(ResourceChange(f"terraform_data.n[{i}]", "create") for i in range(SHOWN_CHANGES + 5))
    lines = plan_lines(PlanSummary(add=len(many), changes=many, outputs_change=True))
    assert lines[0] == "• `terraform_data.n[0]`: create" and len(lines) == SHOWN_CHANGES + 2
    assert lines[-2] == "…and 5 more (see the attached plan)." and lines[-1] == "• outputs change"
    words = plan_lines(PlanSummary(change=1, destroy=2, add=1, changes=(
        ResourceChange("a.b", "update"), ResourceChange("c.d", "delete"), ResourceChange("e.f", "replace"))))
    assert words == ["• `a.b`: change", "• `c.d`: destroy", "• `e.f`: replace"]
    assert plan_lines(PlanSummary()) == []


def test_review_buttons_carry_only_the_run_id() -> None:
    apply, discard = review_buttons(DeploymentRun(id=42))
    assert (apply.label, apply.action_id, apply.value, apply.style) == ("Apply", "plan:apply", "42", "primary")
    assert (discard.label, discard.action_id, discard.value) == ("Discard", "plan:discard", "42")
