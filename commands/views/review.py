"""The chat messages of a plan review: the plan with Apply and Discard, and the answers to those clicks."""

from __future__ import annotations

from commands.ui.model import Attachment, Button, Card, Field, Reply
from core.deployments.review import Outcome, Review
from core.deployments.status import FAILED, DeploymentAction
from core.terraform.output import PlanSummary
from storage.models import Deployment, DeploymentRun

SHOWN_CHANGES = 20
"""Resources named in the message at most; the file names them all."""
VERBS = {DeploymentAction.CREATE: "create", DeploymentAction.UPDATE: "update", DeploymentAction.DESTROY: "destroy"}
ACTION_WORDS = {"create": "create", "update": "change", "delete": "destroy", "replace": "replace",
                "import": "import"}


def review_buttons(run: DeploymentRun) -> tuple[Button, ...]:
    """Apply and Discard of a plan waiting for review (each click is re-authorised in the core)."""
    ref = str(run.id)
    return (Button("Apply", "plan:apply", ref, style="primary"), Button("Discard", "plan:discard", ref))


def plan_lines(summary: PlanSummary) -> list[str]:
    """The resources the plan touches, one line each (at most :data:`SHOWN_CHANGES`), and whether outputs move."""
    lines = [f"• `{c.address}`: {ACTION_WORDS.get(c.action, c.action)}" for c in summary.changes[:SHOWN_CHANGES]]
    if len(summary.changes) > SHOWN_CHANGES:
        lines.append(f"…and {len(summary.changes) - SHOWN_CHANGES} more (see the attached plan).")
    if summary.outputs_change:
        lines.append("• outputs change")
    return lines


def review_reply(deployment: Deployment, run: DeploymentRun, mention: str, summary: PlanSummary,
                 plan_text: str) -> Reply:
    """The plan waiting for review, for the deployment's (public) thread: no button, it says who applies it where.

    N to add, change and destroy with the resources named, and the full plan as a file (sensitive values masked).
    Apply and Discard go to the owner in a direct message; admins have them on ``/rad deployment <id>``.
    """
    verb = VERBS.get(run.action, run.action.lower())
    lead = (f"{mention} the plan to {verb} {deployment.module_name} `{deployment.short_id}` is ready: "
            f"*{summary.text}*. Nothing changes until it is applied: the owner has Apply and Discard in a direct "
            f"message, and an admin can apply it from `/rad deployment {deployment.short_id}`.")
    fields = [Field("Plan", summary.text)]
    if run.expires_at is not None:
        fields.append(Field("Expires", f"{run.expires_at:%Y-%m-%d %H:%M} UTC"))
    card = Card(f"Review: {verb} {deployment.module_name} · {deployment.short_id}",
                text="\n".join(plan_lines(summary)) or "No resource changes.", fields=tuple(fields))
    attachment = Attachment(f"plan-{deployment.short_id}-{run.id}.txt", plan_text.encode(), "text/plain",
                            title=f"Terraform plan of {deployment.short_id}")
    return Reply(text=lead, cards=(card,), attachments=(attachment,), ephemeral=False, in_thread=True)


def no_change_reply(deployment: Deployment, mention: str) -> Reply:
    """The answer when the plan changes nothing: said so, nothing applied."""
    return Reply(text=f"{mention} {deployment.module_name} `{deployment.short_id}`: the plan changes nothing, "
                      "so nothing was applied.", ephemeral=False, in_thread=True)


def answer(review: Review) -> Reply:
    """What a click on Apply or Discard answers, in place of the plan's message when it changed something."""
    d, run = review.deployment, review.run
    ref = f"`{d.short_id}`"
    if review.outcome == Outcome.APPLIED:
        return Reply(text=f":rocket: Applying the reviewed plan of {ref} ({run.plan_summary}); progress appears "
                          "in its channel.", replace_original=True)
    if review.outcome == Outcome.DISCARDED:
        return Reply(text=f"Discarded the plan of {ref}: nothing was applied, {d.module_name} is as it was.",
                     replace_original=True)
    if review.outcome == Outcome.ALREADY_APPLIED:
        return Reply(text=f"This plan of {ref} was already applied; it is applied once.")
    if review.outcome == Outcome.ALREADY_DISCARDED:
        return Reply(text=f"This plan of {ref} was already discarded; nothing was applied.")
    why = review.reason or "This plan can no longer be applied."
    again = again_buttons(run, d)
    anew = "" if again else f" Deploy {d.module_name} again with `/rad deploy {d.module_name}`."
    return Reply(text=f":hourglass: {why} Nothing was applied to {ref}.{anew}", actions=again,
                 replace_original=True)


def again_buttons(run: DeploymentRun, deployment: Deployment) -> tuple[Button, ...]:
    """What to do after a refused plan: plan it again (an update or destroy), or Retry a failed create (it costs).

    A new deployment whose create was not applied is cancelled: it is deployed anew with ``/rad deploy``.
    """
    if run.action != DeploymentAction.CREATE:
        return (Button("Plan again", "plan:again", str(run.id), style="primary"),)
    if deployment.status in FAILED:
        return (Button("Retry", "deployment:retry", deployment.short_id, style="primary"),)
    return ()
