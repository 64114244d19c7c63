"""The caller's own account: ``/rad whoami`` and ``/rad link [code]``."""

from __future__ import annotations

from commands.context import Context
from commands.registry import Args, Param, command
from commands.ui import Card, Field, Reply
from core import linking
from core.identity import IdentityKey, describe
from storage.models import ChatIdentity, User

PLATFORM_NAMES = {"slack": "Slack", "discord": "Discord", "console": "Console"}


def identity_text(ctx: Context, identity: ChatIdentity) -> str:
    """An identity as the caller's platform can show it: a mention on the same platform, an id elsewhere."""
    key = IdentityKey(identity.platform, identity.workspace, identity.external_id)
    shown = describe(key) if identity.platform == ctx.platform else f"`{key}`"
    return f"{PLATFORM_NAMES.get(identity.platform, identity.platform)}: {shown}"


def roles_text(user: User) -> str:
    return ", ".join(sorted(user.role_names)) or "none"


@command("whoami", "Show your RAD user, roles and linked chat accounts")
def whoami(ctx: Context, args: Args) -> Reply:
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
    details="Run it without a code on one platform, then with the code on the other within 15 minutes.",
)
def link(ctx: Context, args: Args) -> Reply:
    code = args.get("code")
    if not code:
        issued = linking.issue_code(ctx.session, ctx.actor, ctx.platform, ctx.now)
        return Reply(text=f"Your link code is `{issued}`. Within 15 minutes, run "
                          f"`{ctx.slash} link {issued}` on the other platform to join the two accounts.")
    user = linking.redeem_code(ctx.session, ctx.actor, ctx.caller.key, str(code), ctx.now)
    linked = ", ".join(identity_text(ctx, i) for i in user.identities)
    return Reply(text=f":link: Linked. Your RAD user now has these accounts: {linked}.")
