"""The chat messages of a deployment: its status card (edited in place as the run moves) and its result."""

from __future__ import annotations

from typing import Any

from commands.ui.model import Attachment, Button, Card, Confirm, Field, Reply
from core.credits.amounts import format_credits
from core.deployments.access import is_owner, may_manage
from core.deployments.status import FAILED, DeploymentAction, DeploymentStatus
from core.hcl.display import hcl_value
from storage.models import Deployment, User

ICONS = {DeploymentStatus.QUEUED: "⏳", DeploymentStatus.WORKING: "⚙️", DeploymentStatus.SUCCESS: "✅",
         DeploymentStatus.FAILURE: "❌", DeploymentStatus.TIMEOUT: "⌛", DeploymentStatus.INTERNAL_ERROR: "💥",
         DeploymentStatus.CANCELLED: "🚫", DeploymentStatus.DELETING: "🧹", DeploymentStatus.DELETED: "🗑",
         DeploymentStatus.AWAITING_REVIEW: "📝"}
ACTION_WORDS = {DeploymentAction.CREATE: "Deploying", DeploymentAction.UPDATE: "Updating",
                DeploymentAction.DESTROY: "Destroying"}
ENDED = FAILED | {DeploymentStatus.SUCCESS}
SUCCEEDED = (DeploymentStatus.SUCCESS, DeploymentStatus.DELETED)
"""A deployment whose last run did what was asked (created or updated it, or destroyed it)."""


def status_line(deployment: Deployment) -> str:
    """The deployment's status with its icon, e.g. ``✅ success``."""
    return f"{ICONS.get(deployment.status, '•')} {deployment.status.replace('_', ' ').lower()}"


def status_reply(deployment: Deployment, mention: str, progress: str = "", plan: str = "") -> Reply:
    """The status message: module, id, owner, state, and what the run is doing now."""
    doing = ACTION_WORDS.get(deployment.action, deployment.action.title())
    fields = [Field("Status", status_line(deployment)), Field("Owner", mention)]
    if progress:
        fields.append(Field("Step", progress))
    if plan:
        fields.append(Field("Plan", plan))
    fields.append(Field("Credit cost", format_credits(deployment.credit_cost)))
    title = f"{doing} {deployment.module_name} · {deployment.short_id}"
    return Reply(cards=(Card(title, fields=tuple(fields)),), ephemeral=False)


def result_reply(deployment: Deployment, mention: str, error: str, tail: str, log: str) -> Reply:
    """The message when a run ends: outputs on success, the error and the log's tail otherwise; full log attached.

    It goes in the deployment's public thread, so it carries no button: a failed create says where its owner
    finds Retry (a direct message, and ``/rad deployment <id>``).
    """
    ok = deployment.status in SUCCEEDED
    lead = f"{mention} {deployment.module_name} `{deployment.short_id}`: {status_line(deployment)}."
    if retry_buttons(deployment):
        lead += (" The owner can retry it: Retry is in their direct messages and on "
                 f"`/rad deployment {deployment.short_id}`.")
    cards = []
    if ok and deployment.outputs:
        cards.append(Card("Outputs", fields=tuple(Field(k, shown(v)) for k, v in sorted(deployment.outputs.items()))))
    if not ok:
        text = (error or "Terraform did not say why.") + (f"\n```\n{tail[-2500:]}\n```" if tail else "")
        cards.append(Card("What went wrong", text=text))
    attachment = Attachment(f"deployment-{deployment.short_id}.log", log.encode(), "text/plain",
                            title=f"Terraform log of {deployment.short_id}")
    return Reply(text=lead, cards=tuple(cards), attachments=(attachment,) if log else (), ephemeral=False,
                 in_thread=True)


def shown(value: Any) -> str:
    """An input or output value as HCL writes it: ``"rad-data"``, ``false``, ``{ age_days = 90 }``."""
    return hcl_value(value)


def retry_buttons(deployment: Deployment, viewer: User | None = None) -> tuple[Button, ...]:
    """Retry, when the deployment's CREATE failed: it was never created, so applying it again is a charged CREATE.

    With ``viewer``, only for its owner (a retry is charged to them; anyone else would be refused).
    """
    if viewer is not None and not is_owner(viewer, deployment):
        return ()
    if deployment.action == DeploymentAction.CREATE and deployment.status in FAILED:
        return (Button("Retry", "deployment:retry", deployment.short_id, style="primary"),)
    return ()


def manage_buttons(deployment: Deployment, viewer: User | None = None, *, created: bool = True,
                   ) -> tuple[Button, ...]:
    """What can be done to a deployment now (re-authorised on click).

    With ``viewer``, only the buttons they may use: none for someone who may only look (finance, on another's
    deployment), no Update of a never-``created`` deployment for anyone but its owner.
    """
    if viewer is not None and not may_manage(viewer, deployment):
        return ()
    ref = deployment.short_id
    buttons = list(retry_buttons(deployment, viewer))
    if deployment.status == DeploymentStatus.QUEUED:
        buttons.append(Button("Cancel", "deployment:cancel", ref, style="danger"))
    if deployment.status in ENDED and (viewer is None or created or is_owner(viewer, deployment)):
        buttons.append(Button("Update", "deployment:update", ref))
    if deployment.status in ENDED:
        buttons.append(Button("Destroy", "deployment:destroy", ref, style="danger", confirm=Confirm(
            f"Destroy {ref}?", "Terraform plans the destroy of what this deployment created; nothing is destroyed "
            "until its plan is applied. The record is kept.", confirm="Destroy")))
    if deployment.status != DeploymentStatus.WORKING:
        buttons.append(Button("Purge", "deployment:purge", ref, style="danger", confirm=Confirm(
            f"Purge {ref}?", "RAD forgets this deployment. Cloud resources are not destroyed.", confirm="Purge")))
    return tuple(buttons)
