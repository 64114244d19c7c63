"""Corrections: ``/rad admin credits <@user> debit <amount> <reason>`` and ``/rad admin adjust all ...``.

An adjustment is shown first (how many users, how much in all, who already has it); **Apply** writes it. From
10,000 credits per user on, Apply opens a form where the amount must be typed. The proposal waits in the
database (a day at most), so the button carries only its token. See ``core.credits.corrections`` for how a
re-run is keyed.
"""

from __future__ import annotations

from collections.abc import Mapping

from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Param, action, command, form
from commands.handlers.notify import notify_later
from commands.ui.model import Button, Form, FormValue, Input, Reply
from core.accounts import identity as identities
from core.accounts.identity import IdentityKey, describe
from core.accounts.roles import ADMIN, FINANCE
from core.credits import corrections
from core.credits import service as credits
from core.credits.amounts import credit_count, format_credits, parse_amount
from core.credits.corrections import LARGE_ADJUSTMENT, Adjustment
from core.wording import count

APPLY_ACTION = "credits:adjust"
CONFIRM_FORM = "credits:adjust:confirm"


def debit_reply(ctx: Context, user: IdentityKey, amount: str, reason: str | None) -> Reply:
    """Debit ``user`` (never below zero, holds included), tell them in a direct message, show the balance."""
    how_many = parse_amount(amount)
    target = identities.require_user(ctx.session, user)
    row = corrections.debit(ctx.session, ctx.actor, target, how_many, reason=reason or "", platform=ctx.platform)
    now = credits.balance(ctx.session, target)
    notify_later(ctx.session, target, f":receipt: {ctx.actor.display_name} debited "
                                      f"{credit_count(how_many)} from you ({row.description}). You have "
                                      f"{format_credits(now.available_total)} available; see `{ctx.slash} credits`.")
    return Reply(text=f":white_check_mark: Debited {credit_count(how_many)} from {describe(user)} "
                      f"({row.description}): {format_credits(-row.awarded_delta)} awarded, "
                      f"{format_credits(-row.purchased_delta)} purchased. Their balance: "
                      f"{format_credits(now.awarded)} awarded, {format_credits(now.purchased)} purchased, "
                      f"{format_credits(now.available_total)} available.\nThey are told in a direct message.")


@command("admin adjust", "Award or sell the same credits to every user (asks first)",
         params=(Param("scope", "choice", "Who: every active user", choices=("all",)),
                 Param("kind", "choice", "`award`: free credits; `purchase`: paid credits",
                       choices=corrections.ADJUST_KINDS),
                 Param("amount", "word", "Credits each user gets, like 25 or 12.5"),
                 Param("reason", "text", "Why; each user sees it, and it names the adjustment")),
         roles=(ADMIN, FINANCE),
         details="One transaction per user. The same kind, amount and reason make the same adjustment: run "
                 "again, it skips every user who already has it, so it is safe to repeat; use a new reason "
                 f"(e.g. the month) for a new one. From {format_credits(LARGE_ADJUSTMENT)} credits per user on, "
                 "Apply asks you to type the amount.")
def adjust(ctx: Context, scope: str, kind: str, amount: str, reason: str) -> Reply:
    """Show what the adjustment would do, with an Apply button (nothing is written yet)."""
    wanted = corrections.adjustment(ctx.actor, kind, parse_amount(amount), reason)
    users = len(corrections.adjustable_users(ctx.session))
    done = corrections.already_adjusted(ctx.session, wanted)
    todo = max(0, users - done)
    lines = [f"*Adjust all*: {credit_count(wanted.amount, bucket(wanted))} for each of {count(users, 'active user')} – "
             f"{credit_count(wanted.amount * todo)} in all for those who do not have it yet. Reason: {wanted.reason}",
             f"Batch `{wanted.batch}`: the same kind, amount and reason are never given twice to anyone."]
    if done:
        one = done == 1
        lines.append(f":information_source: {count(done, 'user')} already {'has' if one else 'have'} this "
                     f"adjustment and {'is' if one else 'are'} skipped.")
    if not todo:
        lines.append("Nothing to do: everyone has it.")
        return Reply(text="\n".join(lines))
    if wanted.large:
        lines.append(f":warning: That is {format_credits(LARGE_ADJUSTMENT)} or more per user: Apply asks you to type "
                     "the amount.")
    token = corrections.propose(ctx.session, ctx.actor, wanted)
    return Reply(text="\n".join(lines),
                 actions=(Button(f"Apply to {count(todo, 'user')}", APPLY_ACTION, token, style="primary"),))


@action(APPLY_ACTION, roles=(ADMIN, FINANCE))
def apply_adjustment(ctx: Context, event: ActionEvent) -> Reply | Form:
    """Apply: write the adjustment now, or for a large one open the form asking for the typed amount."""
    wanted = corrections.proposal(ctx.session, ctx.actor, event.value)
    if wanted.large:
        return Form(title="Confirm the adjustment", action_id=CONFIRM_FORM, submit_label="Apply", state=event.value,
                    intro=f"{describe_adjustment(wanted)} to every active user ({wanted.reason}). Type the credits "
                          f"each user gets, {wanted.confirmation}, to confirm.",
                    inputs=(Input("confirm", "Credits per user", help="Exactly the amount above.", max_length=40),))
    return applied(ctx, wanted, None).replacing()


@form(CONFIRM_FORM, roles=(ADMIN, FINANCE), slow=True)
def confirm_adjustment(ctx: Context, values: Mapping[str, FormValue], state: str) -> Reply:
    """The typed confirmation of a large adjustment: applied when it matches, else refused (nothing written)."""
    wanted = corrections.proposal(ctx.session, ctx.actor, state)
    return applied(ctx, wanted, str(values.get("confirm") or ""))


def applied(ctx: Context, wanted: Adjustment, confirmation: str | None) -> Reply:
    """Write the adjustment (each user once), tell each user given it, and say what was done."""
    outcome = corrections.adjust_all(ctx.session, ctx.actor, wanted, confirmation=confirmation,
                                     platform=ctx.platform)
    for user in corrections.adjustable_users(ctx.session):
        if user.id in outcome.applied:
            notify_later(ctx.session, user, f":moneybag: {ctx.actor.display_name} {describe_adjustment(wanted)} to "
                                            f"every user ({wanted.reason}). See `{ctx.slash} credits`.")
    skipped = f" {count(outcome.skipped, 'user')} already had it and got nothing more." if outcome.skipped else ""
    return Reply(text=f":white_check_mark: {describe_adjustment(wanted)} to {count(len(outcome.applied), 'user')}: "
                      f"{credit_count(outcome.total)} in all (batch `{wanted.batch}`).{skipped}")


def bucket(wanted: Adjustment) -> str:
    """``awarded`` or ``purchased``: the bucket an adjustment adds to."""
    return "awarded" if wanted.kind == "award" else "purchased"


def describe_adjustment(wanted: Adjustment) -> str:
    """``awarded 50 credits`` or ``added 50 purchased credits``."""
    if wanted.kind == "award":
        return f"awarded {credit_count(wanted.amount)}"
    return f"added {credit_count(wanted.amount, 'purchased')}"
