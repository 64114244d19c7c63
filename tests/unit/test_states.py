"""The state enums: what a worker may report, and the groups of deployment states the domain asks about."""

from __future__ import annotations

import pytest
from sqlalchemy import Enum

from core.deployments.queue import Finished
from core.deployments.status import ACTIVE, ENDINGS, FAILED, DeploymentRunStatus, DeploymentStatus
from storage.models import Base
from storage.models.states import STATE_MACHINES


@pytest.mark.parametrize("status", ["QUEUED", "WORKING", "CANCELLED", "DONE"])
def test_a_run_never_ends_in_a_state_that_is_no_ending(status: str) -> None:
    with pytest.raises(ValueError, match=f"A run does not end '{status}'"):
        Finished(status)  # type: ignore[arg-type]


def test_an_ending_given_by_its_value_becomes_the_member() -> None:
    finished = Finished("TIMEOUT")  # type: ignore[arg-type]
    assert finished.status is DeploymentRunStatus.TIMEOUT


def test_every_ending_of_a_run_is_a_deployment_status() -> None:
    assert {DeploymentStatus(ending) for ending in ENDINGS} == FAILED | {DeploymentStatus.SUCCESS}
    assert not ACTIVE & FAILED


def test_every_state_machine_is_stored_by_a_checked_column() -> None:
    stored = {column.type.enum_class for table in Base.metadata.sorted_tables for column in table.columns
              if isinstance(column.type, Enum) and column.type.create_constraint}
    assert stored == set(STATE_MACHINES)
