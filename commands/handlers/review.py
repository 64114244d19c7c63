"""Apply, Discard and Plan again on a plan waiting for review (the owner or an admin; checked in the core)."""

from __future__ import annotations

from commands.framework.context import Context
from commands.framework.registry import ActionEvent, action
from commands.handlers import deployment_notices as notices
from commands.ui.model import Reply
from commands.views.review import answer
from core.accounts.roles import USER
from core.deployments import review


@action("plan:apply", roles=(USER,))
def apply(ctx: Context, event: ActionEvent) -> Reply:
    """Apply exactly the reviewed plan, once; an expired or stale plan is refused with Plan again."""
    return _answered(ctx, review.apply(ctx.session, ctx.services.secrets, ctx.actor, event.value, ctx.now))


@action("plan:discard", roles=(USER,))
def discard(ctx: Context, event: ActionEvent) -> Reply:
    """Discard the plan: nothing is applied."""
    return _answered(ctx, review.discard(ctx.session, ctx.actor, event.value, ctx.now))


def _answered(ctx: Context, done: review.Review) -> Reply:
    """The click's answer; the owner's direct message and the status message are edited to how it ended."""
    notices.review_over(ctx.session, ctx.actor, done.outcome, done.run, done.deployment, done.reason)
    return answer(done)


@action("plan:again", roles=(USER,))
def plan_again(ctx: Context, event: ActionEvent) -> Reply:
    """Plan a refused update or destroy again; the new plan is shown for review when it is ready."""
    run = review.plan_again(ctx.session, ctx.actor, event.value, ctx.now)
    return Reply(text=f":arrows_counterclockwise: Planning {run.action.lower()} again; the plan appears in the "
                      "deployment's thread, and Apply / Discard in its owner's direct messages.", replace_original=True)
