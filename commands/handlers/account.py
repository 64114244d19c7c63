"""The caller's own account: ``/rad whoami`` and ``/rad link [code]``."""

from __future__ import annotations

from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Param, action, command
from commands.ui.model import Button, Card, Field, Reply
from core.accounts import linking
from core.accounts.identity import IdentityKey, describe
from storage.models import ChatIdentity, User

PLATFORM_NAMES = {"slack": "Slack", "discord": "Discord", "console": "Console"}


def identity_text(ctx: Context, identity: ChatIdentity) -> str:
    """An identity as the caller's platform can show it: a mention on the same platform, its name elsewhere."""
    key = IdentityKey(identity.platform, identity.workspace, identity.external_id)
    shown = describe(key) if identity.platform == ctx.platform else (identity.display_name or f"`{key}`")
    return f"{PLATFORM_NAMES.get(identity.platform, identity.platform)}: {shown}"


def roles_text(user: User) -> str:
    """The user's role names, sorted and comma-separated, or ``none``."""
    return ", ".join(sorted(user.role_names)) or "none"


@command("whoami", "Show your RAD user, roles and linked chat accounts", read_only=True)
def whoami(ctx: Context) -> Reply:
    """A card of the caller's RAD user: id, roles, linked chat accounts and the date they joined."""
    user = ctx.actor
    card = Card(
        title=f"{user.display_name} (user {user.id})",
        fields=(
            Field("Roles", roles_text(user)),
            Field("Linked accounts", "\n".join(identity_text(ctx, i) for i in user.identities)),
            Field("Member since", user.created_at.strftime("%Y-%m-%d")),
        ),
    )
    return Reply(cards=(card,))


@command(
    "link",
    "Link your Slack and Discord accounts with a one-time code",
    params=(Param("code", "word", "The code you got from `link` on the other platform", required=False),),
    details="Run it without a code on one platform, then with the code on the other within 15 minutes. "
            "When linking would change anyone's roles, it says how and asks first.",
)
def link(ctx: Context, code: str | None) -> Reply:
    """Without a code, issue one; with a code, join the two accounts, asking first when roles would move."""
    if not code:
        issued = linking.issue_code(ctx.session, ctx.actor, ctx.platform, ctx.now)
        return Reply(text=f"Your link code is `{issued}`. Within 15 minutes, run "
                          f"`{ctx.slash} link {issued}` on the other platform to join the two accounts.")
    plan = linking.plan_link(ctx.session, ctx.actor, ctx.caller.key, code, ctx.now)
    if plan.moves_roles:
        return ask_to_link(ctx, plan, linking.hold_link(ctx.session, plan, ctx.caller.key))
    merged = plan.merged.id
    return linked_reply(ctx, linking.redeem_code(ctx.session, ctx.actor, ctx.caller.key, code, ctx.now), merged)


@action("link:confirm")
def confirm_link(ctx: Context, event: ActionEvent) -> Reply:
    """The confirm button of a link that moves roles: re-checked, then carried out once."""
    outcome = linking.confirm_link(ctx.session, ctx.actor, ctx.caller.key, event.value, ctx.now)
    if isinstance(outcome, linking.LinkPlan):  # the roles changed since the question: ask again
        return ask_to_link(ctx, outcome, event.value, changed=True).replacing()
    if outcome.merged_id is None:
        return Reply(text=f":link: Already linked. {accounts_text(ctx, outcome.user)}", replace_original=True)
    return linked_reply(ctx, outcome.user, outcome.merged_id).replacing()


@action("link:cancel")
def cancel_link(ctx: Context, event: ActionEvent) -> Reply:
    """The Cancel button of a link that moves roles: nothing is linked and the code stays valid."""
    linking.drop_link(ctx.session, ctx.caller.key, event.value)
    return Reply(text="Nothing was linked. Your code still works until it expires.", replace_original=True)


def ask_to_link(ctx: Context, plan: linking.LinkPlan, token: str, *, changed: bool = False) -> Reply:
    """Say which account survives, which disappears and which roles move; Link or Cancel."""
    survivor, merged = account_name(plan.survivor), account_name(plan.merged)
    lines = [":warning: The roles changed since you were asked; here is what linking does now."] if changed else []
    lines += [
        f"Linking joins your accounts into {survivor}, which issued the code on "
        f"{PLATFORM_NAMES.get(plan.issued_on, plan.issued_on)}.",
        f"• {merged} (your account here) *disappears*: its chat accounts move to {survivor}; its credits, "
        "deployments and connections stay behind with it.",
    ]
    if plan.survivor_gains:
        lines.append(f"• {survivor} *gains* {role_list(plan.survivor_gains)} from {merged}.")
    if plan.redeemer_gains:
        here = ", ".join(identity_text(ctx, i) for i in plan.merged.identities)
        lines.append(f"• {here} will act with {role_list(plan.redeemer_gains)}, which {merged} does not have.")
    lines.append(f"• Afterwards {survivor} has the roles: {', '.join(sorted(plan.roles_after))}.")
    lines.append("Link them?")
    return Reply(text="\n".join(lines), actions=(
        Button("Link and move roles", "link:confirm", token, style="danger"),
        Button("Cancel", "link:cancel", token),
    ))


def linked_reply(ctx: Context, user: User, merged: int) -> Reply:
    """The answer once linked: which former RAD user was merged, and the accounts and roles now."""
    return Reply(text=f":link: Linked. Your former RAD user {merged} was merged into it. {accounts_text(ctx, user)}")


def accounts_text(ctx: Context, user: User) -> str:
    """The user's id, linked chat accounts and roles, as one sentence."""
    linked = ", ".join(identity_text(ctx, i) for i in user.identities)
    return f"Your RAD user {user.id} has these accounts: {linked}; roles: {roles_text(user)}."


def account_name(user: User) -> str:
    """A user as the link question names them: id, display name and roles."""
    return f"*RAD user {user.id}* ({user.display_name}, {roles_text(user)})"


def role_list(roles: frozenset[str]) -> str:
    """``the role *a*`` or ``the roles *a*, *b*``, sorted."""
    names = sorted(roles)
    return ("the role " if len(names) == 1 else "the roles ") + ", ".join(f"*{r}*" for r in names)
