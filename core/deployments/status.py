"""The deployment state machines and the groups of states the domain asks about.

The enums are defined with the schema (``storage.models.states``: columns use them and ``storage`` imports
nothing above it); this is where the domain and the layers above take them from.
"""

from __future__ import annotations

from storage.models.states import DeploymentAction, DeploymentRunStatus, DeploymentStatus

__all__ = ["ACTIVE", "ENDINGS", "FAILED", "NOT_APPLIED", "OPEN_RUNS", "DeploymentAction", "DeploymentRunStatus",
           "DeploymentStatus"]

ACTIVE = frozenset({DeploymentStatus.QUEUED, DeploymentStatus.WORKING, DeploymentStatus.DELETING,
                    DeploymentStatus.AWAITING_REVIEW})
"""A deployment in one of these has a run waiting, running or waiting for review: nothing else may be queued."""
OPEN_RUNS = frozenset({DeploymentRunStatus.QUEUED, DeploymentRunStatus.WORKING, DeploymentRunStatus.PLANNED,
                       DeploymentRunStatus.APPROVED})
"""A run in one of these is not over yet: it blocks any other run of its deployment."""
NOT_APPLIED = frozenset({DeploymentRunStatus.DISCARDED, DeploymentRunStatus.EXPIRED, DeploymentRunStatus.STALE})
"""How a reviewed run ends without its plan being applied."""
FAILED = frozenset({DeploymentStatus.FAILURE, DeploymentStatus.TIMEOUT, DeploymentStatus.INTERNAL_ERROR})
"""How a deployment's last run ended badly."""
ENDINGS = frozenset({DeploymentRunStatus.SUCCESS, DeploymentRunStatus.FAILURE, DeploymentRunStatus.TIMEOUT,
                     DeploymentRunStatus.INTERNAL_ERROR})
"""How a worker may report a run's end (cancelling is the user's side, not the worker's)."""
