"""Credits: ``/rad credits``, ``/rad admin credits`` (award or purchase) and ``/rad admin settings``."""

from __future__ import annotations

from commands.framework.context import Context
from commands.framework.registry import Param, command
from commands.handlers.credit_corrections import debit_reply
from commands.handlers.notify import notify_later
from commands.ui.model import Card, Field, Reply
from core.accounts import identity as identities
from core.accounts.identity import IdentityKey, describe
from core.accounts.roles import ADMIN, FINANCE
from core.credits import service as credits
from core.credits.amounts import credit_count, format_credits, parse_amount
from core.credits.ledger import Balance
from core.settings import platform as credit_settings
from storage.models import CreditTransaction

RECENT = 10
SIGNS = {"SIGNUP": "+", "AWARD": "+", "PURCHASE": "+", "SPEND": "−", "PROJECT": "−", "HOLD": "", "RELEASE": "",
         "DEBIT": "−"}
WHAT = {"SIGNUP": "awarded at sign-up", "AWARD": "awarded", "PURCHASE": "purchased", "SPEND": "spent",
        "PROJECT": "project costs", "HOLD": "held", "RELEASE": "released", "DEBIT": "debited (correction)"}


@command("credits", "Show your credits and your last transactions",
         params=(Param("user", "user", "Someone else's credits (finance and admins)", required=False),),
         read_only=True)
def show_credits(ctx: Context, user: IdentityKey | None) -> Reply:
    """The balance card and last transactions of the caller, or of ``user`` (finance and admins only)."""
    whom = identities.require_user(ctx.session, user) if user is not None else ctx.actor
    shown, rows = credits.statement(ctx.session, ctx.actor, whom, RECENT)
    whose = "Your credits" if whom.id == ctx.actor.id else f"Credits of {whom.display_name}"
    lines = [] if credit_settings.credits_enabled(ctx.session) else [
        ":information_source: Credits are turned off on this platform: deployments are not charged."]
    lines.append(f"*Last {RECENT} transactions*" if rows else "_No transactions yet._")
    lines += [transaction_line(row) for row in rows]
    return Reply(text="\n".join(lines), cards=(balance_card(whose, shown),))


@command("admin credits", "Award or sell credits to a user, or debit a correction",
         params=(Param("user", "user", "Whose credits"),
                 Param("kind", "choice", "`award`: free credits; `purchase`: paid credits; `debit`: take some back",
                       choices=("award", "purchase", "debit")),
                 Param("amount", "word", "How many credits, like 25 or 12.5"),
                 Param("reason", "text", "Why; shown in their transactions (required for a debit)", required=False)),
         roles=(ADMIN, FINANCE),
         details="Awarded credits are spent first; purchased credits count as revenue when spent. A debit takes "
                 "awarded credits first, never more than is available (holds count), and needs a reason.")
def admin_credits(ctx: Context, user: IdentityKey, kind: str, amount: str, reason: str | None) -> Reply:
    """Award, sell or debit credits of ``user``, queue a direct message telling them, and show their balance."""
    if kind == "debit":
        return debit_reply(ctx, user, amount, reason)
    how_many = parse_amount(amount)
    target = identities.require_user(ctx.session, user)
    give = credits.award if kind == "award" else credits.purchase
    why = (reason or "").strip()
    give(ctx.session, ctx.actor, target, how_many, reason=why, platform=ctx.platform)
    now = credits.balance(ctx.session, target)
    verb = "Awarded" if kind == "award" else "Added"
    bucket = "" if kind == "award" else "purchased"
    because = f" ({why})" if why else ""
    notify_later(ctx.session, target, f":moneybag: {ctx.actor.display_name} {verb.lower()} "
                                      f"{credit_count(how_many, bucket)} to you{because}. You have "
                                      f"{format_credits(now.available_total)} available; see `{ctx.slash} credits`.")
    return Reply(text=f":white_check_mark: {verb} {credit_count(how_many, bucket)} to {describe(user)}"
                      f"{because}. Their balance: {format_credits(now.awarded)} awarded, "
                      f"{format_credits(now.purchased)} purchased, {format_credits(now.available_total)} available.\n"
                      "They are told in a direct message.")


@command("admin settings", "Show the platform settings, or change one",
         params=(Param("key", "choice", "The setting", required=False, choices=tuple(credit_settings.SPECS)),
                 Param("value", "word", "Its new value", required=False)),
         roles=(ADMIN,))
def admin_settings(ctx: Context, key: str | None, value: str | None) -> Reply:
    """Without a key, every platform setting and the sandbox; with a key, that setting; with a value, change it."""
    if key is None:
        lines = ["*Platform settings*", *(setting_line(ctx, k) for k in credit_settings.SPECS),
                 f"Change one with `{ctx.slash} admin settings <key> <value>`.", sandbox_line(ctx)]
        return Reply(text="\n".join(lines))
    spec = credit_settings.spec_for(key)
    if value is None:
        return Reply(text=setting_line(ctx, spec.key))
    old, new = credit_settings.change(ctx.session, ctx.actor, spec.key, value, platform=ctx.platform)
    return Reply(text=f":white_check_mark: `{spec.key}` is now {spec.show(new)} (was {spec.show(old)}).")


def sandbox_line(ctx: Context) -> str:
    """How Terraform runs on this host (``RAD_SANDBOX``, ``RAD_SANDBOX_NETWORK``), set in the environment."""
    if ctx.config.sandbox == "off":
        return (":warning: *Terraform sandbox: off* (`RAD_SANDBOX=off`): modules run as the bot's own user and "
                "can read its secrets. Set `RAD_SANDBOX=bwrap` unless every module author is trusted.")
    network = "with network" if ctx.config.sandbox_network else "without network"
    return f":lock: Terraform sandbox: bubblewrap, {network} (`RAD_SANDBOX`, `RAD_SANDBOX_NETWORK`)."


def setting_line(ctx: Context, key: str) -> str:
    """One setting: its current value, what it does and the values allowed."""
    spec = credit_settings.SPECS[key]
    current = spec.show(credit_settings.value(ctx.session, key))
    return f"• `{key}` = *{current}* – {spec.description}. Allowed: {spec.allowed}."


def balance_card(title: str, shown: Balance) -> Card:
    """The balance card: awarded, purchased, held and available credits."""
    return Card(title=title, fields=(
        Field("Awarded", format_credits(shown.awarded)),
        Field("Purchased", format_credits(shown.purchased)),
        Field("Held", format_credits(shown.held)),
        Field("Available", f"{format_credits(shown.available_total)} "
                           f"(purchased: {format_credits(shown.available_purchased)})"),
    ))


def transaction_line(row: CreditTransaction) -> str:
    """One ledger row: when, what, how much, for what, and the balance after."""
    text = f"• `{row.created_at:%Y-%m-%d %H:%M}` {SIGNS.get(row.kind, '')}{format_credits(row.amount)} " \
           f"{WHAT.get(row.kind, row.kind.lower())}"
    if row.kind == "SPEND" and row.awarded_delta and row.purchased_delta:
        text += f" ({format_credits(-row.awarded_delta)} awarded, {format_credits(-row.purchased_delta)} purchased)"
    if row.deployment_ref:
        text += f" · deployment `{row.deployment_ref}`"
    if row.module:
        text += f" · {row.module}"
    if row.description and row.kind in ("AWARD", "PURCHASE", "RELEASE", "DEBIT"):
        text += f" – {row.description}"
    return f"{text} · balance {format_credits(row.balance_after)}"
