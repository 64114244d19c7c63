"""``/rad deploy [module]``: pick a module, fill its inputs step by step, confirm the cost, deploy.

The form's values live in a deploy draft (sensitive ones sealed), so steps survive restarts and the confirm
button carries only the draft's token. Confirming twice makes one deployment and one hold. A draft may also
apply an existing deployment again: an update (free) once it was created, else a retry of its CREATE, which
shows the cost and holds it anew.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Param, action, command, form
from commands.ui.model import (
    FORM_INPUTS_MAX,
    Button,
    Card,
    Field,
    Form,
    FormErrors,
    FormValue,
    Input,
    InputKind,
    Option,
    Reply,
    Select,
)
from commands.views.credits import offer_buttons
from core.accounts.roles import USER
from core.catalog import browse
from core.credits.amounts import credit_count, format_credits
from core.credits.offers import how_to_get_credits
from core.deployments import drafts
from core.deployments import service as deployments
from core.errors import Conflict
from core.modules.inputs import VALUE_MAX, check_values, deployable_inputs, example, form_text, shown, steps
from core.modules.model import Variable
from core.modules.spec import load_spec
from storage.models import DeployDraft, DeployDraftStatus, Deployment, Module

PICKER_SIZE = 25
KINDS: dict[str, InputKind] = {"text": "text", "number": "number", "bool": "bool", "choice": "choice",
                               "json": "multiline"}


@command("deploy", "Deploy a module: a form asks for its inputs, then you confirm the cost",
         params=(Param("module", "word", "The module's name", required=False, options="modules:names"),),
         roles=(USER,))
def deploy(ctx: Context, module: str | None) -> Reply | Form:
    """The module picker, or the first step of deploying the named module."""
    if not module:
        return picker(ctx, "all")
    return start(ctx, browse.find_visible(ctx.session, ctx.actor, module))


def picker(ctx: Context, tab: browse.Tab) -> Reply:
    """The Platform, Partner and Pinned tab buttons and a select of the tab's modules."""
    rows = browse.browse(ctx.session, ctx.actor, tab)
    tabs = tuple(Button(label, "deploy:tab", t, style="primary" if t == tab else "default")
                 for t, label in (("platform", "Platform"), ("partner", "Partner"), ("pinned", "📌 Pinned")))
    if not rows:
        return Reply(text="No module to deploy here.", actions=tabs, replace_original=True)
    options = tuple(Option(r.module.name, r.module.name, (r.module.description or "")[:90]) for r in rows)
    choose = Select("deploy:pick", options, placeholder="Choose a module to deploy", options_source="modules:names")
    return Reply(text=f"*Deploy a module* – {len(rows)} to choose from.", actions=(choose, *tabs))


@action("deploy:tab", roles=(USER,))
def switch_tab(ctx: Context, event: ActionEvent) -> Reply:
    """A tab button: the picker on that tab (``all`` for an unknown one), in place."""
    tab = event.value if event.value in browse.TABS else "all"
    reply = picker(ctx, tab)
    return reply.replacing()


@action("deploy:pick", roles=(USER,))
def picked(ctx: Context, event: ActionEvent) -> Form | Reply:
    """The module chosen in the picker, or a Deploy button's module (the Home tab): its first form step.

    A module without inputs goes straight to the confirmation.
    """
    chosen = event.selected or ((event.value,) if event.value else ())
    if not chosen:
        return Reply(text="Choose a module.")
    return start(ctx, browse.find_visible(ctx.session, ctx.actor, chosen[0]))


def start(ctx: Context, module: Module, deployment: Deployment | None = None) -> Form | Reply:
    """A new draft for ``module`` (an update of ``deployment`` when given) and its first step.

    What would block the confirmation (too few credits, a dependency not deployed) is said before any form is
    shown, and no draft is made. A form of the same module left halfway is offered to resume or start again.
    """
    if deployment is None or not deployments.created(ctx.session, deployment):
        refused = refusal(ctx, module, deployment)
        if refused is not None:
            return refused
    if deployment is None:
        left = drafts.unfinished(ctx.session, ctx.actor, module, len(form_steps(module)))
        if left is not None:
            return resume_offer(ctx, left, module)
    draft = new_draft(ctx, module, deployment)
    if not deployable_inputs(load_spec(module.spec)):
        return confirmation(ctx, draft, module)
    return step_form(ctx, draft, module, 0)


def refusal(ctx: Context, module: Module, deployment: Deployment | None) -> Reply | None:
    """Why ``module`` cannot be deployed now (credits short, dependencies missing), before its form; else None."""
    fields = [Field("Module", f"{module.name} (`{module.commit[:7]}`)")]
    blockers = price_fields(ctx, module, fields)
    if not blockers:
        return None
    doing = "Retry" if deployment is not None else "Deploy"
    card = Card(f"{doing} {module.name}", fields=tuple(fields))
    lines = "\n".join(f":no_entry: {b}" for b in blockers)
    short = not deployments.quote(ctx.session, ctx.actor, module).enough
    offers = offer_buttons(how_to_get_credits(ctx.session, ctx.actor)) if short else ()
    return Reply(text=f"{lines}\nNo form was opened and nothing was charged.", cards=(card,), actions=offers)


def form_steps(module: Module) -> list[list[Variable]]:
    """The module's inputs in form steps: one per UIMeta group, a long group split to fit one form."""
    return steps(deployable_inputs(load_spec(module.spec)), FORM_INPUTS_MAX)


def resume_offer(ctx: Context, draft: DeployDraft, module: Module) -> Reply:
    """A form of ``module`` left halfway (a closed modal, Ctrl-C): resume it with its values, or start again."""
    total = len(form_steps(module))
    at = min(draft.step, total - 1)
    text = (f"You left a form to {verb(ctx, draft).lower()} *{module.name}* at step {at + 1} of {total}; "
            "nothing was deployed or charged. Resume it with the values you gave, or start again.")
    return Reply(text=text, actions=(Button("Resume", "deploy:resume", draft.token, style="primary"),
                                     Button("Start again", "deploy:restart", draft.token)))


@action("deploy:resume", roles=(USER,))
def resume(ctx: Context, event: ActionEvent) -> Form | Reply:
    """Reopen a draft left halfway at the step it reached, with the values given so far."""
    draft, module = load_draft(ctx, event.value)
    if draft.status == DeployDraftStatus.DONE:
        raise Conflict("This deployment is already confirmed.")
    refused = refusal(ctx, module, None)  # the balance or the dependencies may have changed since
    if refused is not None:
        return refused
    groups = form_steps(module)
    if not groups:
        return confirmation(ctx, draft, module)
    return step_form(ctx, draft, module, min(draft.step, len(groups) - 1))


@action("deploy:restart", roles=(USER,))
def restart(ctx: Context, event: ActionEvent) -> Form | Reply:
    """Forget a draft left halfway and open a new form of its module from the first step."""
    draft, module = load_draft(ctx, event.value)
    if draft.status == DeployDraftStatus.DONE:
        raise Conflict("This deployment is already confirmed.")
    refused = refusal(ctx, module, None)
    if refused is not None:
        return refused
    seal(ctx, draft, {})
    ctx.session.delete(draft)
    ctx.session.flush()
    fresh = new_draft(ctx, module, None)
    if not form_steps(module):
        return confirmation(ctx, fresh, module)
    return step_form(ctx, fresh, module, 0)


def retry(ctx: Context, module: Module, deployment: Deployment) -> Reply:
    """Deploy a never-created deployment again with its inputs: straight to the confirmation (cost, balance)."""
    if not deployments.require_applier(ctx.session, ctx.actor, deployment):
        raise Conflict(f"Deployment `{deployment.short_id}` was created; change it with Update.",
                       hint=f"Run `{ctx.slash} deployment {deployment.short_id}`.")
    return confirmation(ctx, new_draft(ctx, module, deployment), module)


def new_draft(ctx: Context, module: Module, deployment: Deployment | None) -> DeployDraft:
    """A draft of a new deployment, or of ``deployment`` applied again."""
    return drafts.new_draft(ctx.session, ctx.services.secrets, ctx.actor, module, deployment, ctx.now)


def verb(ctx: Context, draft: DeployDraft) -> str:
    """What confirming the draft does: Deploy (a new deployment), Retry (a CREATE again) or Update."""
    target = ctx.session.get(Deployment, draft.deployment_id) if draft.deployment_id is not None else None
    if target is None:
        return "Deploy"
    return "Update" if deployments.created(ctx.session, target) else "Retry"


def step_form(ctx: Context, draft: DeployDraft, module: Module, step: int) -> Form:
    """The form of one step, pre-filled from the draft; Next until the last step, then Review."""
    groups = form_steps(module)
    kept = set(sealed(ctx, draft))
    inputs = tuple(form_input(item, draft.values, item.name in kept) for item in groups[step])
    title = f"{verb(ctx, draft)} {module.name}"
    part = f" (step {step + 1} of {len(groups)})" if len(groups) > 1 else ""
    return Form(title=title, action_id="deploy:step", inputs=inputs, state=f"{draft.token}:{step}",
                submit_label="Next" if step + 1 < len(groups) else "Review", intro=f"{module.description}{part}",
                part_action="deploy:part")


def form_input(item: Variable, values: Mapping[str, Any], kept: bool) -> Input:
    """The input for one module variable, pre-filled with the draft's value or the default (never a sensitive one).

    A sensitive input with a value ``kept`` (an update, a resumed form) is optional: left empty, it keeps it.
    A list, map or object input asks for JSON and shows an example of its type.
    """
    kind: InputKind = "secret" if item.sensitive else KINDS.get(item.kind, "text")
    current = values.get(item.name, item.default if item.has_default else None)
    default: FormValue
    if item.sensitive:
        default = None
    elif kind == "bool":
        default = bool(current)
    elif item.kind == "json" and current is not None:
        default = form_text(current)
    else:
        default = None if current is None else str(current)
    about = f"{item.description} ({item.type})".strip()
    placeholder = ""
    if item.kind == "json" and not item.sensitive:
        placeholder = example(item)
        about = f"Write JSON ({item.type}), for example {placeholder}. {item.description}".strip()
    if item.sensitive and kept:
        about += " Leave empty to keep the value given before."
    return Input(item.name, item.name.replace("_", " "), kind=kind,
                 required=item.required and not (item.sensitive and kept), default=default, help=about,
                 placeholder=placeholder, options=tuple(Option(c, c) for c in item.choices), max_length=VALUE_MAX)


def load_draft(ctx: Context, token: str, *, lock: bool = False) -> tuple[DeployDraft, Module]:
    """The caller's draft and its module (see :func:`core.deployments.drafts.load_draft`)."""
    return drafts.load_draft(ctx.session, ctx.actor, token, lock=lock)


@form("deploy:step", roles=(USER,))
def submitted(ctx: Context, values: Mapping[str, FormValue], state: str) -> Form | Reply | FormErrors:
    """Check one step's values and keep them in the draft (sensitive ones sealed); then the next step or the review.

    Values that do not check go back to the form as errors.
    """
    token, _, number = state.partition(":")
    draft, module = load_draft(ctx, token)
    groups = form_steps(module)
    step = int(number) if number.isdigit() and int(number) < len(groups) else 0
    items = groups[step]
    kept = sealed(ctx, draft)
    checked, errors = check_values(items, with_kept(items, values, kept))
    if errors:
        return FormErrors(errors)
    draft.values = {**draft.values, **{i.name: checked[i.name] for i in items if not i.sensitive}}
    secret = {**kept, **{i.name: checked[i.name] for i in items if i.sensitive}}
    seal(ctx, draft, secret)
    if step + 1 < len(groups):
        draft.step = step + 1
        return step_form(ctx, draft, module, step + 1)
    draft.step = len(groups)  # every step done: the review, no longer a form left halfway
    return confirmation(ctx, draft, module)


@form("deploy:part", roles=(USER,))
def part_checked(ctx: Context, values: Mapping[str, FormValue], state: str) -> FormErrors:
    """Part of a step (one Discord modal of a longer step), checked before the next part is asked.

    The part's values that check are kept in the draft (not the sensitive ones: the step's submission seals
    them), so a form closed halfway keeps them; the others come back as errors for their fields.
    """
    token, _, number = state.partition(":")
    draft, module = load_draft(ctx, token)
    groups = form_steps(module)
    step = int(number) if number.isdigit() and int(number) < len(groups) else 0
    items = [item for item in groups[step] if item.name in values]
    checked, errors = check_values(items, with_kept(items, values, sealed(ctx, draft)))
    good = {i.name: checked[i.name] for i in items if not i.sensitive and i.name not in errors}
    if good:
        draft.values = {**draft.values, **good}
    return FormErrors(errors)


def with_kept(items: list[Variable], values: Mapping[str, FormValue], kept: Mapping[str, Any]) -> dict[str, Any]:
    """The submitted values, where a sensitive one left empty takes the value given before (an update, a resume)."""
    raw: dict[str, Any] = dict(values)
    for item in items:
        if item.sensitive and not raw.get(item.name) and item.name in kept:
            raw[item.name] = kept[item.name]
    return raw


def sealed(ctx: Context, draft: DeployDraft) -> dict[str, Any]:
    """The draft's sensitive values, opened."""
    return drafts.sealed(ctx.session, ctx.services.secrets, draft)


def seal(ctx: Context, draft: DeployDraft, secret: Mapping[str, Any]) -> None:
    """Replace the draft's sealed sensitive values."""
    drafts.seal(ctx.session, ctx.services.secrets, draft, secret, ctx.actor, ctx.now)


def confirmation(ctx: Context, draft: DeployDraft, module: Module) -> Reply:
    """Module, inputs (sensitive masked), cost, the balance that pays it, dependencies; Confirm when possible.

    An update of a created deployment is free; a new deployment and a retried CREATE show the cost.
    """
    draft.commit = module.commit  # what is shown here is what a Confirm applies (checked at Confirm)
    items = deployable_inputs(load_spec(module.spec))
    secret = sealed(ctx, draft)
    lines = [f"• `{i.name}` = {shown(i, secret.get(i.name) if i.sensitive else draft.values.get(i.name))}"
             for i in items]
    doing = verb(ctx, draft)
    fields = [Field("Module", f"{module.name} (`{module.commit[:7]}`)")]
    target = ctx.session.get(Deployment, draft.deployment_id) if draft.deployment_id is not None else None
    if target is not None:
        fields.append(Field("Deployment", f"`{target.short_id}`"))
    blockers: list[str] = []
    if doing == "Update":
        fields.append(Field("Cost", "updates are not charged"))
    else:
        blockers = price_fields(ctx, module, fields)
    card = Card(f"{doing} {module.name}?", text="\n".join(lines) or "No inputs.", fields=tuple(fields))
    controls: list[Button] = []
    if not blockers:
        controls.append(Button("Confirm", "deploy:confirm", draft.token, style="primary"))
    controls.append(Button("Cancel", "deploy:discard", draft.token))
    if blockers and doing != "Update" and not deployments.quote(ctx.session, ctx.actor, module).enough:
        controls.extend(offer_buttons(how_to_get_credits(ctx.session, ctx.actor)))
    text = "\n".join(f":no_entry: {b}" for b in blockers) if blockers else "Check the inputs, then confirm."
    return Reply(text=text, cards=(card,), actions=tuple(controls))


def price_fields(ctx: Context, module: Module, fields: list[Field]) -> list[str]:
    """Add the cost, the balance that pays it and the dependencies to ``fields``; what blocks confirming."""
    price = deployments.quote(ctx.session, ctx.actor, module)
    kind = "purchased" if price.purchased_only else ""
    fields.append(Field("Cost", credit_count(price.cost) + (f" ({price.free_reason})" if price.free_reason else "")))
    fields.append(Field("Available", credit_count(price.available, kind)))
    blockers = []
    if not price.enough:
        offer = how_to_get_credits(ctx.session, ctx.actor)
        blockers.append(f"You are {credit_count(price.cost - max(price.available, Decimal(0)), kind)} short: "
                        f"this needs {credit_count(price.cost, kind)} and you have "
                        f"{format_credits(price.available)}. {offer.text}")
    deps = deployments.dependencies(ctx.session, ctx.actor, module)
    if deps:
        fields.append(Field("Depends on", ", ".join(f"{'✅' if d.satisfied else '❌'} {d.name}" for d in deps)))
    return blockers + [f"Deploy `{d.name}` first." for d in deps if not d.satisfied]


@action("deploy:confirm", roles=(USER,))
def confirm(ctx: Context, event: ActionEvent) -> Reply:
    """Create (or update) once: a second click shows the same deployment."""
    draft, module = load_draft(ctx, event.value, lock=True)
    if draft.status == DeployDraftStatus.DONE and draft.deployment_id is not None:
        done = ctx.session.get(Deployment, draft.deployment_id)
        if done is not None:
            return Reply(text=queued_text(done), replace_original=True)
    if draft.commit != module.commit:
        shown_before = draft.commit[:7]
        again = confirmation(ctx, draft, module)
        note = (f":arrows_counterclockwise: `{module.name}` was published again since you reviewed it at "
                f"`{shown_before}`. Check it at `{module.commit[:7]}`, then confirm.")
        return replace(again, text=f"{note}\n{again.text}").replacing()
    secret = sealed(ctx, draft)
    if draft.deployment_id is not None:
        deployment = deployments.find(ctx.session, ctx.actor, ctx.session.get_one(Deployment,
                                                                                  draft.deployment_id).short_id)
        deployments.queue_update(ctx.session, ctx.services.secrets, ctx.actor, deployment, draft.values, secret,
                                 draft.token, ctx.now)
    else:
        deployment = deployments.create(ctx.session, ctx.services.secrets, ctx.actor, module, draft.values, secret,
                                        draft.token, ctx.now, ctx.where)
    draft.status, draft.deployment_id = DeployDraftStatus.DONE, deployment.id
    seal(ctx, draft, {})
    return Reply(text=queued_text(deployment), replace_original=True)


def queued_text(deployment: Deployment) -> str:
    """The answer to Confirm: the deployment is queued and reports its progress in the channel."""
    return (f":rocket: Deployment `{deployment.short_id}` of *{deployment.module_name}* is queued "
            f"({deployment.action.lower()}). Its progress appears in this channel.")


@action("deploy:discard", roles=(USER,))
def discard(ctx: Context, event: ActionEvent) -> Reply:
    """The Cancel button: delete the draft and its sealed values; a confirmed draft cannot be cancelled."""
    draft, _ = load_draft(ctx, event.value)
    if draft.status == DeployDraftStatus.DONE:
        raise Conflict("This deployment is already confirmed.")
    seal(ctx, draft, {})
    ctx.session.delete(draft)
    return Reply(text="Cancelled: nothing was deployed.", replace_original=True)
