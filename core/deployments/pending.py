"""What a run waiting for its review keeps: whether it waits, the deployment's other version, its saved plan.

An update that waits for review changes the deployment's inputs at once (the worker plans what the deployment
holds) and keeps the previous version on the run; a plan that is not applied swaps them back, so the run then
keeps its proposal for a new plan. The saved plan is sealed like the state and deleted once the run is over.
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy.orm import Session

from core.deployments.status import DeploymentAction, DeploymentStatus
from core.secrets import SecretBox, reveal
from core.settings.platform import review_creates
from storage.models import Deployment, DeploymentRun, StoredSecret

PLAN_KIND = "terraform_plan"
"""The kind of the stored secret holding a saved plan file."""


def wants_review(session: Session, action: DeploymentAction) -> bool:
    """Whether a run of ``action`` waits for a review of its plan.

    Updates and destroys always do; creates when ``review_creates`` is on (their cost was confirmed already).
    """
    return action != DeploymentAction.CREATE or review_creates(session)


def start(session: Session, run: DeploymentRun, resume: DeploymentStatus | None) -> None:
    """Mark a newly queued run for review when its action wants one; ``resume`` is the deployment's status before."""
    run.review = wants_review(session, run.action)
    run.resume_status = resume


def keep_previous(run: DeploymentRun, deployment: Deployment) -> None:
    """Before an update changes the deployment's inputs, keep its current version on the run (to put back).

    The sealed inputs move to the run, so the deployment's new ones are sealed in a row of their own.
    """
    run.other_inputs = _version(deployment)
    run.other_secret_id, deployment.secret_inputs_id = deployment.secret_inputs_id, None


def _version(deployment: Deployment) -> dict[str, Any]:
    return {"inputs": dict(deployment.inputs), "commit": deployment.commit,
            "source_files": dict(deployment.source_files), "source_platform": deployment.source_platform}


def swap(run: DeploymentRun, deployment: Deployment) -> None:
    """Exchange the deployment's version with the one the run keeps (inputs, sealed inputs, commit, files)."""
    kept, secret = dict(run.other_inputs), run.other_secret_id
    run.other_inputs, run.other_secret_id = _version(deployment), deployment.secret_inputs_id
    deployment.inputs, deployment.commit = dict(kept["inputs"]), str(kept["commit"])
    deployment.source_files, deployment.source_platform = dict(kept["source_files"]), bool(kept["source_platform"])
    deployment.secret_inputs_id = secret


def saved_plan(session: Session, box: SecretBox, run: DeploymentRun) -> bytes | None:
    """The run's saved plan file, opened for the worker that applies it; never show or log it."""
    row = session.get(StoredSecret, run.plan_secret_id) if run.plan_secret_id else None
    return base64.b64decode(reveal(box, row)) if row is not None else None


def forget_plan(session: Session, run: DeploymentRun, *, proposal: bool = False) -> None:
    """Delete the run's sealed plan (and, with ``proposal``, the version it keeps)."""
    ids = [run.plan_secret_id] + ([run.other_secret_id] if proposal else [])
    run.plan_secret_id = None
    if proposal:
        run.other_secret_id, run.other_inputs = None, {}
    for secret_id in ids:
        row = session.get(StoredSecret, secret_id) if secret_id is not None else None
        if row is not None:
            session.delete(row)
    session.flush()
