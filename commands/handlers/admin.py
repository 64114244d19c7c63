"""Admin commands: grant and revoke roles, list users."""

from __future__ import annotations

from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Param, action, command
from commands.handlers.account import identity_text, roles_text
from commands.ui.model import Reply
from commands.ui.paging import page_of
from core.accounts import identity as identities
from core.accounts.identity import IdentityKey, user_label
from core.accounts.roles import ADMIN, ROLES, check_role, revoke_role
from core.errors import InvalidInput

PAGE_SIZE = 10
USER_PARAM = Param("user", "user", "The user to change")
ROLE_PARAM = Param("role", "choice", "The role", choices=ROLES)


@command("admin grant", "Give a user a role", params=(USER_PARAM, ROLE_PARAM), roles=(ADMIN,),
         details="A user who never used RAD is registered by the grant.")
def grant(ctx: Context, user: IdentityKey, role: str) -> Reply:
    """Give the user the role, registering them first if they never used RAD; audited."""
    role = check_role(role)
    done = identities.grant(ctx.session, ctx.actor, user, role)
    target = done.user
    if done.registered:
        return Reply(text=f":white_check_mark: *{target.display_name}* is now a {role}: they had not used RAD yet, "
                          f"so they are registered now. Roles: {roles_text(target)}.")
    return Reply(text=f":white_check_mark: *{target.display_name}* is now a {role}. Roles: {roles_text(target)}.")


@command("admin revoke", "Take a role away from a user", params=(USER_PARAM, ROLE_PARAM), roles=(ADMIN,))
def revoke(ctx: Context, user: IdentityKey, role: str) -> Reply:
    """Take the role from a registered user (core refuses the last admin's admin role); audited."""
    role = check_role(role)
    target = identities.require_user(ctx.session, user)
    revoke_role(ctx.session, target, role)
    ctx.audit("role.revoke", target=user_label(target), role=role)
    return Reply(text=f":white_check_mark: *{target.display_name}* is no longer a {role}. "
                      f"Roles: {roles_text(target)}.")


@command("admin users", "List users and their roles",
         params=(Param("page", "int", "Page number", required=False),), roles=(ADMIN,), read_only=True)
def users(ctx: Context, page: int | None) -> Reply:
    """The first page of users, or the page asked for."""
    return users_page(ctx, 1 if page is None else page)


@action("admin:users:page", roles=(ADMIN,), read_only=True)
def users_page_action(ctx: Context, event: ActionEvent) -> Reply:
    """The Previous and Next buttons: that page of users, in place of the current one."""
    if not event.value.isdigit():
        raise InvalidInput("That page does not exist.")
    reply = users_page(ctx, int(event.value))
    return reply.replacing()


def users_page(ctx: Context, page: int) -> Reply:
    """One page of users with their roles and chat accounts, and Previous/Next buttons.

    Raises:
        InvalidInput: ``page`` is outside the pages there are.
    """
    shown = page_of(identities.count_users(ctx.session), page, PAGE_SIZE, strict=True)
    rows = identities.list_users(ctx.session, offset=shown.offset, limit=PAGE_SIZE)
    lines = [f"*Users* ({shown.label}, {shown.total} in all)"]
    for user in rows:
        accounts = "; ".join(identity_text(ctx, i) for i in user.identities)
        state = "" if user.active else " _(deactivated)_"
        lines.append(f"• *{user.display_name}* (user {user.id}){state} – {roles_text(user)} – {accounts}")
    return Reply(text="\n".join(lines), actions=shown.buttons("admin:users:page", str))


