"""``/rad profile``: the caller's display name and notification preferences, in a form."""

from __future__ import annotations

from collections.abc import Mapping

from commands.framework.context import Context
from commands.framework.registry import command, form
from commands.ui.model import Form, FormErrors, FormValue, Input, Reply
from core.accounts import profile as profiles
from core.errors import InvalidInput


@command("profile", "Change your display name and notifications")
def profile(ctx: Context) -> Form:
    """The profile form, pre-filled with the caller's display name and notification choices."""
    mine = profiles.current(ctx.session, ctx.actor)
    return Form(
        title="Your RAD profile",
        action_id="profile:save",
        submit_label="Save",
        inputs=(
            Input("display_name", "Display name", default=mine.display_name, max_length=profiles.NAME_MAX),
            Input("notify_deployments", "Tell me when my deployments finish", kind="bool", required=False,
                  default=mine.notify_deployments),
            Input("notify_billing", "Send me billing notices", kind="bool", required=False,
                  default=mine.notify_billing),
        ),
    )


@form("profile:save")
def save_profile(ctx: Context, values: Mapping[str, FormValue], state: str) -> Reply | FormErrors:
    """Save the profile; a refused display name goes back to the form as its error."""
    wanted = profiles.Profile(str(values.get("display_name") or ""), bool(values.get("notify_deployments")),
                              bool(values.get("notify_billing")))
    try:
        saved = profiles.update(ctx.session, ctx.actor, wanted, platform=ctx.platform)
    except InvalidInput as refused:
        return FormErrors({"display_name": refused.message})
    return Reply(text=f":white_check_mark: Saved. You are *{saved.display_name}*; deployment notices "
                      f"{'on' if saved.notify_deployments else 'off'}, billing notices "
                      f"{'on' if saved.notify_billing else 'off'}.")
