"""What a deployment tells its owner privately, and how its public messages catch up, through the outbox.

The deployment's thread is public: everyone in the channel reads it, so it carries no button only some of them
may press. The buttons go to the owner in a direct message (Apply and Discard of a plan waiting for review,
Retry of a failed create); admins find Apply and Discard on ``/rad deployment <id>``, shown only to who may use
them. When a review ends (applied, discarded, expired, stale) the owner's direct message is edited to say so
(its buttons gone, or Plan again), and the deployment's status message is edited to its final state. Every row
is written in the caller's transaction and delivered by a worker after the commit, once per key.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from commands.handlers.notify import POST_KIND, post_later
from commands.ui.model import Button
from commands.views.deployment import retry_buttons, status_reply
from commands.views.review import again_buttons, review_buttons
from core.accounts.identity import IdentityKey, describe
from core.conversations import ConversationRef
from core.credits.amounts import format_credits
from core.deployments import service as deployments
from core.deployments.review import Outcome
from core.deployments.status import DeploymentAction
from storage.models import Deployment, DeploymentRun, Job, JobStatus, User

VERBS = {DeploymentAction.CREATE: "create", DeploymentAction.UPDATE: "update", DeploymentAction.DESTROY: "destroy"}
ENDINGS = {Outcome.DISCARDED: "plan discarded: nothing applied", Outcome.EXPIRED: "plan expired: nothing applied",
           Outcome.STALE: "plan out of date: nothing applied"}
"""The status message's last step after a review that applied nothing."""


def mention(session: Session, deployment: Deployment) -> str:
    """The owner as the deployment's chat platform mentions them (their name elsewhere)."""
    owner = session.get(User, deployment.owner_id)
    if owner is None:
        return "someone"
    same = [i for i in owner.identities if i.platform == deployment.chat_platform]
    if same:
        return describe(IdentityKey(same[0].platform, same[0].workspace, same[0].external_id))
    return owner.display_name


def owner_identities(session: Session, deployment: Deployment) -> list[IdentityKey]:
    """Where the owner is told privately: their accounts on the deployment's platform, else every one."""
    owner = session.get(User, deployment.owner_id)
    if owner is None:
        return []
    keys = [IdentityKey(i.platform, i.workspace, i.external_id) for i in owner.identities]
    same = [k for k in keys if k.platform == deployment.chat_platform]
    return same or keys


def _tell_owner(session: Session, deployment: Deployment, key: str, text: str, buttons: tuple[Button, ...]) -> None:
    for identity in owner_identities(session, deployment):
        post_later(session, f"{key}:{identity.platform}:{identity.workspace}:{identity.external_id}", text,
                   user=identity, buttons=buttons)


def review_key(run: DeploymentRun) -> str:
    """The outbox key prefix of the direct messages offering a run's plan for review."""
    return f"plan-review:{run.id}"


def offer_review(session: Session, deployment: Deployment, run: DeploymentRun) -> None:
    """Send the owner Apply and Discard of the plan waiting for review, privately."""
    verb = VERBS.get(run.action, run.action.lower())
    expires = f" It expires {run.expires_at:%Y-%m-%d %H:%M} UTC." if run.expires_at is not None else ""
    text = (f"The plan to {verb} {deployment.module_name} `{deployment.short_id}` is ready: *{run.plan_summary}*. "
            f"Nothing changes until you apply it (Apply below, or on `/rad deployment {deployment.short_id}`); the "
            "plan and its file are in the deployment's thread." + expires)
    _tell_owner(session, deployment, review_key(run), text, review_buttons(run))


def offer_retry(session: Session, deployment: Deployment, run_id: int) -> None:
    """Send the owner Retry of a failed create, privately (a retry is charged to them, so only they see it)."""
    buttons = retry_buttons(deployment)
    if not buttons:
        return
    text = (f"{deployment.module_name} `{deployment.short_id}` was not created "
            f"({deployment.status.replace('_', ' ').lower()}); its credits were released. Retry shows the cost "
            f"({format_credits(deployment.credit_cost)} credits) before anything runs.")
    _tell_owner(session, deployment, f"deployment-retry:{run_id}", text, buttons)


def review_over(session: Session, actor: User | None, outcome: Outcome, run: DeploymentRun,
                deployment: Deployment, reason: str = "") -> None:
    """A review ended: edit the owner's direct messages to say how, and the status message when nothing applied.

    ``actor`` is who ended it (None: nobody, the plan expired); ``reason`` why a plan was refused.
    """
    ref = f"`{deployment.short_id}` ({deployment.module_name})"
    who = f" by {actor.display_name}" if actor is not None else ""
    buttons: tuple[Button, ...] = ()
    if outcome == Outcome.APPLIED:
        text = f":rocket: The plan of {ref} was applied{who} ({run.plan_summary}); progress is in its thread."
    elif outcome == Outcome.DISCARDED:
        text = f"The plan of {ref} was discarded{who}: nothing was applied."
    elif outcome in (Outcome.EXPIRED, Outcome.STALE):
        text = f":hourglass: {reason or 'This plan can no longer be applied.'} Nothing was applied to {ref}."
        buttons = again_buttons(run, deployment)
    else:
        return
    _close_offers(session, review_key(run) + ":", f"plan-review-done:{run.id}", text, buttons)
    if outcome in ENDINGS:
        show_status(session, deployment, f"deployment-status:{run.id}:{outcome}", ENDINGS[outcome],
                    plan=run.plan_summary)


def created_since(session: Session, deployment: Deployment) -> None:
    """The create succeeded: the owner's Retry offers of its earlier failures are edited to say so, without Retry."""
    text = (f"{deployment.module_name} `{deployment.short_id}` was created since; there is nothing to retry. "
            f"Change it with Update on `/rad deployment {deployment.short_id}`.")
    for run_id in session.scalars(select(DeploymentRun.id).where(DeploymentRun.deployment_id == deployment.id)):
        _close_offers(session, f"deployment-retry:{run_id}:", f"deployment-retry-done:{run_id}", text, ())


def _close_offers(session: Session, prefix: str, key: str, text: str, buttons: tuple[Button, ...]) -> None:
    """Edit the posted offers whose key starts with ``prefix`` to ``text``; one not posted yet goes out so."""
    offers = session.scalars(select(Job).where(Job.kind == POST_KIND,
                                               Job.payload["key"].as_string().startswith(prefix)))
    for job in offers:
        sent = job.payload.get("sent") or {}
        if sent.get("message"):
            where = ConversationRef(str(sent["platform"]), str(sent.get("workspace", "")), str(sent["channel"]),
                                    message=str(sent["message"]))
            post_later(session, f"{key}:{where.platform}:{where.channel}:{where.message}", text, where=where,
                       buttons=buttons, edit=True)
        elif job.status in (JobStatus.QUEUED, JobStatus.FAILED) and not sent:
            payload = {k: v for k, v in job.payload.items() if k != "buttons"}
            if buttons:
                payload["buttons"] = [{"label": b.label, "action_id": b.action_id, "value": b.value,
                                       "style": b.style} for b in buttons]
            job.payload = {**payload, "text": text}


def show_status(session: Session, deployment: Deployment, key: str, step: str, plan: str = "") -> None:
    """Edit the deployment's status message in place (after the commit) to its state now, with ``step``.

    Nothing when it was never posted, or in the console (which follows the deployment in the database).
    """
    where = deployments.chat_ref(deployment)
    if not where.message or not where.channel or where.platform == "console":
        return
    shown = status_reply(deployment, mention(session, deployment), progress=step, plan=plan)
    post_later(session, key, shown.text, where=where, cards=shown.cards, edit=True)


def run_abandoned(session: Session, deployment: Deployment) -> None:
    """A run whose worker died was failed: its status message stops saying it works, the owner gets Retry."""
    run_id = session.scalars(select(DeploymentRun.id).where(DeploymentRun.deployment_id == deployment.id)
                             .order_by(DeploymentRun.id.desc()).limit(1)).first()
    if run_id is None:
        return
    show_status(session, deployment, f"deployment-status:{run_id}:abandoned", "the worker running it stopped")
    offer_retry(session, deployment, run_id)
