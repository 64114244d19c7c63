"""``/rad deployments [all]`` and ``/rad deployment <id>`` with Retry, Update, Destroy, Purge, Cancel and Rate."""

from __future__ import annotations

from sqlalchemy import select

from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Param, action, command
from commands.handlers.deploy import retry, start
from commands.ui.model import Attachment, Button, Card, Control, Field, Form, Option, Reply, Select
from commands.views.costs import cost_to_date
from commands.views.deployment import ICONS, SUCCEEDED, manage_buttons, shown, status_line
from commands.views.review import review_buttons
from core.accounts.roles import USER
from core.credits.amounts import format_credits
from core.deployments import review
from core.deployments import service as deployments
from core.deployments.status import DeploymentRunStatus
from core.errors import InvalidInput, NotFound
from core.modules.inputs import sensitive_names
from storage.models import Deployment, DeploymentRun, Module, User

LIST_SIZE = 15


@command("deployments", "Your deployments (admins and finance: `all` for everyone's)",
         params=(Param("scope", "choice", "Everyone's deployments", required=False, choices=("all",)),),
         roles=(USER,), read_only=True)
def list_deployments(ctx: Context, scope: str | None) -> Reply:
    """The caller's deployments (everyone's with ``all``, for admins and finance), newest first, and a picker."""
    wide = scope == "all"
    rows = deployments.visible(ctx.session, ctx.actor, everyone=wide, limit=LIST_SIZE)
    if not rows:
        return Reply(text=f"No deployments yet. Start one with `{ctx.slash} deploy`.")
    total = deployments.count_visible(ctx.session, ctx.actor, everyone=wide) if len(rows) == LIST_SIZE else len(rows)
    everyone = wide and deployments.others_visible(ctx.session, ctx.actor)
    owners = owner_names(ctx, rows) if everyone else {}
    lines = [f"{ICONS.get(d.status, '•')} `{d.short_id}` *{d.module_name}* – {d.status.replace('_', ' ').lower()} – "
             + (f"{owners[d.owner_id]} – " if everyone else "") + f"{d.created_at:%Y-%m-%d %H:%M}"
             for d in rows]
    older = total - LIST_SIZE
    more = f"\n…and {older} older {'one' if older == 1 else 'ones'}." if older > 0 else ""
    picker = Select("deployment:show", tuple(Option(f"{d.short_id} · {d.module_name}", d.short_id)
                                             for d in rows), placeholder="Show a deployment")
    return Reply(text=f"*Deployments* ({total})\n" + "\n".join(lines) + more, actions=(picker,))


def owner_names(ctx: Context, rows: list[Deployment]) -> dict[int, str]:
    """The owners of ``rows`` by name (one query; "you" for the caller's own), by user id."""
    ids = {d.owner_id for d in rows} - {ctx.actor.id}
    names = dict(ctx.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())
    found = {i: names.get(i, f"user {i}") for i in ids}
    found[ctx.actor.id] = f"{ctx.actor.display_name} (you)"
    return found


@command("deployment", "One deployment: status, inputs, outputs, runs and log",
         params=(Param("id", "word", "The 4-character id"),), roles=(USER,), read_only=True)
def show(ctx: Context, id: str) -> Reply:
    """The details of the deployment with that id."""
    return details(ctx, deployments.find(ctx.session, ctx.actor, id))


@action("deployment:show", roles=(USER,), read_only=True)
def show_action(ctx: Context, event: ActionEvent) -> Reply:
    """The deployment picker: the chosen deployment's details."""
    return details(ctx, deployments.find(ctx.session, ctx.actor, (event.selected or (event.value,))[0]))


def details(ctx: Context, d: Deployment) -> Reply:
    """Status, inputs (sensitive masked), outputs and last runs; manage buttons, rating, the last run's log attached."""
    module = ctx.session.get(Module, d.module_id) if d.module_id else None
    sensitive = sensitive_names(module.spec or {}) if module else set()
    inputs = "\n".join(f"• `{k}` = {shown(v)}" for k, v in sorted(d.inputs.items()) if k not in sensitive)
    inputs += "".join(f"\n• `{k}` = ••••••" for k in sorted(sensitive))
    runs = list(ctx.session.scalars(select(DeploymentRun).where(DeploymentRun.deployment_id == d.id)
                                    .order_by(DeploymentRun.id.desc()).limit(5)))
    run_lines = [f"{r.action.lower()}: {r.status.replace('_', ' ').lower()}"
                 + (f" – {r.plan_summary}" if r.plan_summary else "")
                 + (f" – {r.error.splitlines()[0][:150]}" if r.error else "") for r in runs]
    cards = [
        Card(f"{d.module_name} · {d.short_id}", fields=(
            Field("Status", status_line(d)), Field("Owner", owner_name(ctx, d)),
            Field("Commit", f"`{d.commit[:12]}`"),
            Field("Credit cost", format_credits(d.credit_cost) + (" (charged)" if d.charged else "")),
            Field("Project cost to date", cost_to_date(ctx.session, d)),
            Field("Rating", f"{d.rating} ★" if d.rating else "not rated"),
            Field("Created", f"{d.created_at:%Y-%m-%d %H:%M} UTC"))),
        Card("Inputs", text=inputs or "none"),
    ]
    if d.outputs:
        cards.append(Card("Outputs", fields=tuple(Field(k, shown(v)) for k, v in sorted(d.outputs.items()))))
    if run_lines:
        cards.append(Card("Runs", text="\n".join(run_lines)))
    controls: list[Control] = list(manage_buttons(d, ctx.actor, created=deployments.created(ctx.session, d)))
    waiting = next((r for r in runs if r.status == DeploymentRunStatus.PLANNED), None)
    if waiting is not None and review.may_review(ctx.actor, d):  # only those who may apply see Apply
        controls[:0] = review_buttons(waiting)
    if d.owner_id == ctx.actor.id and d.status in SUCCEEDED:
        controls.append(Select("deployment:rate", tuple(Option("★" * n, str(n)) for n in range(1, 6)),
                               placeholder="Rate it", value=d.short_id,
                               selected=(str(d.rating),) if d.rating else ()))
    log = runs[0].log if runs else ""
    files = (Attachment(f"deployment-{d.short_id}.log", log.encode(), "text/plain"),) if log else ()
    return Reply(cards=tuple(cards), actions=tuple(controls), attachments=files)


def owner_name(ctx: Context, d: Deployment) -> str:
    """The deployment's owner by name ("you" for the caller's own)."""
    if d.owner_id == ctx.actor.id:
        return f"{ctx.actor.display_name} (you)"
    owner = ctx.session.get(User, d.owner_id)
    return owner.display_name if owner is not None else f"user {d.owner_id}"


def target(ctx: Context, event: ActionEvent) -> Deployment:
    """The deployment the button names, if the caller may see it."""
    return deployments.find(ctx.session, ctx.actor, event.value)


@action("deployment:cancel", roles=(USER,))
def cancel(ctx: Context, event: ActionEvent) -> Reply:
    """Cancel a deployment still queued; its held credits are released."""
    d = target(ctx, event)
    deployments.cancel(ctx.session, ctx.actor, d, ctx.now)
    return Reply(text=f"Deployment `{d.short_id}` is cancelled; its credits are released.", replace_original=True)


@action("deployment:destroy", roles=(USER,))
def destroy(ctx: Context, event: ActionEvent) -> Reply:
    """Plan the destroy; first name the deployments that depend on this one, and ask before going on."""
    d = target(ctx, event)
    deployments.require_manager(ctx.actor, d, "destroy")
    depending = review.dependents(ctx.session, d)
    if not depending:
        return plan_destroy(ctx, d)
    one = len(depending) == 1
    names = ", ".join(f"`{x.short_id}` ({x.module_name})" for x in depending)
    return Reply(text=f":warning: {names} depend{'s' if one else ''} on `{d.short_id}` ({d.module_name}); "
                      f"destroying it can break {'it' if one else 'them'}. Plan the destroy anyway? Nothing is "
                      "destroyed before you apply the plan.",
                 actions=(Button("Plan the destroy", "deployment:destroy_anyway", d.short_id, style="danger"),
                          Button("Keep it", "deployment:keep", d.short_id)), replace_original=True)


@action("deployment:destroy_anyway", roles=(USER,))
def destroy_anyway(ctx: Context, event: ActionEvent) -> Reply:
    """Plan the destroy although other deployments depend on this one (the user was told which)."""
    return plan_destroy(ctx, target(ctx, event))


@action("deployment:keep", roles=(USER,))
def keep(ctx: Context, event: ActionEvent) -> Reply:
    """Do not destroy after all."""
    d = target(ctx, event)
    return Reply(text=f"Nothing was destroyed: `{d.short_id}` stays.", replace_original=True)


def plan_destroy(ctx: Context, d: Deployment) -> Reply:
    """Queue the destroy's plan; it is shown for review (Apply or Discard) before anything is destroyed."""
    deployments.queue_destroy(ctx.session, ctx.actor, d, ctx.now)
    return Reply(text=f":broom: Planning the destroy of `{d.short_id}`; the plan appears in its thread for review "
                      "before anything is destroyed.", replace_original=True)


@action("deployment:purge", roles=(USER,))
def purge(ctx: Context, event: ActionEvent) -> Reply:
    """Remove the deployment's record from RAD (not its resources)."""
    d = target(ctx, event)
    short = d.short_id
    deployments.purge(ctx.session, ctx.actor, d)
    return Reply(text=f"Deployment `{short}` is purged from RAD.", replace_original=True)


@action("deployment:update", roles=(USER,))
def update(ctx: Context, event: ActionEvent) -> Form | Reply:
    """The form, pre-filled; a deployment never created is deployed (and charged) again, not updated."""
    d = target(ctx, event)
    deployments.require_applier(ctx.session, ctx.actor, d)
    return start(ctx, published(ctx, d), d)


@action("deployment:retry", roles=(USER,))
def retry_create(ctx: Context, event: ActionEvent) -> Reply:
    """A failed CREATE again, with the same inputs: the confirmation shows the cost and the balance."""
    d = target(ctx, event)
    return retry(ctx, published(ctx, d), d)


def published(ctx: Context, d: Deployment) -> Module:
    """The module the deployment was made from; NotFound once it is no longer published."""
    module = ctx.session.get(Module, d.module_id) if d.module_id else None
    if module is None:
        raise NotFound(f"The module `{d.module_name}` is no longer published.")
    return module


@action("deployment:rate", roles=(USER,))
def rate(ctx: Context, event: ActionEvent) -> Reply:
    """Rate the deployment 1 to 5 stars and show its module's new average."""
    stars = (event.selected or ("",))[0]
    if not stars.isdigit():
        raise InvalidInput("Choose 1 to 5 stars.")
    d = target(ctx, event)
    module = deployments.rate(ctx.session, ctx.actor, d, int(stars))
    average = (f" *{d.module_name}* now averages {module.rating_sum / module.rating_count:.1f} ★ "
               f"({module.rating_count})." if module and module.rating_count else "")
    return Reply(text=f"Thanks: `{d.short_id}` rated {'★' * int(stars)}.{average}")


