"""Admin commands: grant and revoke roles, list users."""

from __future__ import annotations

from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Args, Param, action, command
from commands.handlers.account import identity_text, roles_text
from commands.ui.model import Button, Reply
from core.accounts import identity as identities
from core.accounts.identity import IdentityKey, describe, user_label
from core.accounts.roles import ADMIN, ROLES, check_role, grant_role, revoke_role
from core.errors import Conflict, InvalidInput
from storage.models import UserRole

PAGE_SIZE = 10
USER_PARAM = Param("user", "user", "The user to change")
ROLE_PARAM = Param("role", "choice", "The role", choices=ROLES)


@command("admin grant", "Give a user a role", params=(USER_PARAM, ROLE_PARAM), roles=(ADMIN,),
         details="A user who never used RAD is registered by the grant.")
def grant(ctx: Context, args: Args) -> Reply:
    key, role = _target(args), check_role(str(args["role"]))
    user = identities.find_user(ctx.session, key)
    if user is None:
        user = identities.create_user(ctx.session, key, key.external_id, by=ctx.actor)
    grant_role(ctx.session, user, role)
    ctx.audit("role.grant", target=user_label(user), role=role)
    return Reply(text=f":white_check_mark: {describe(key)} is now a {role}. Roles: {roles_text(user)}.")


@command("admin revoke", "Take a role away from a user", params=(USER_PARAM, ROLE_PARAM), roles=(ADMIN,))
def revoke(ctx: Context, args: Args) -> Reply:
    key, role = _target(args), check_role(str(args["role"]))
    user = identities.require_user(ctx.session, key)
    if role == ADMIN and ADMIN in user.role_names and _admin_count(ctx) == 1:
        raise Conflict("That is the last admin.", hint="Grant admin to someone else first.")
    revoke_role(ctx.session, user, role)
    ctx.audit("role.revoke", target=user_label(user), role=role)
    return Reply(text=f":white_check_mark: {describe(key)} is no longer a {role}. Roles: {roles_text(user)}.")


@command("admin users", "List users and their roles",
         params=(Param("page", "int", "Page number", required=False),), roles=(ADMIN,))
def users(ctx: Context, args: Args) -> Reply:
    page = args.get("page")
    page = 1 if page is None else page
    assert isinstance(page, int)
    return users_page(ctx, page)


@action("admin:users:page", roles=(ADMIN,))
def users_page_action(ctx: Context, event: ActionEvent) -> Reply:
    if not event.value.isdigit():
        raise InvalidInput("That page does not exist.")
    reply = users_page(ctx, int(event.value))
    return reply.replacing()


def users_page(ctx: Context, page: int) -> Reply:
    total = identities.count_users(ctx.session)
    pages = max(1, -(-total // PAGE_SIZE))
    if page < 1 or page > pages:
        raise InvalidInput(f"There is no page {page}.", hint=f"Pages go from 1 to {pages}.")
    rows = identities.list_users(ctx.session, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    lines = [f"*Users* (page {page} of {pages}, {total} in all)"]
    for user in rows:
        accounts = "; ".join(identity_text(ctx, i) for i in user.identities)
        state = "" if user.active else " _(deactivated)_"
        lines.append(f"• *{user.display_name}* (user {user.id}){state} – {roles_text(user)} – {accounts}")
    buttons = []
    if page > 1:
        buttons.append(Button("◀ Previous", "admin:users:page", str(page - 1)))
    if page < pages:
        buttons.append(Button("Next ▶", "admin:users:page", str(page + 1)))
    return Reply(text="\n".join(lines), actions=tuple(buttons))


def _target(args: Args) -> IdentityKey:
    key = args["user"]
    assert isinstance(key, IdentityKey)
    return key


def _admin_count(ctx: Context) -> int:
    from sqlalchemy import func, select

    return ctx.session.scalar(select(func.count(UserRole.id)).where(UserRole.role == ADMIN)) or 0
