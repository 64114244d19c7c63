"""``/rad profile``: the caller's display name and notification preferences, in a form."""

from __future__ import annotations

from collections.abc import Mapping

from commands.framework.context import Context
from commands.framework.registry import Args, command, form
from commands.ui.model import Form, FormErrors, FormValue, Input, Reply
from storage.models import UserPreference

NAME_MAX = 80


def preferences(ctx: Context) -> UserPreference:
    prefs = ctx.session.get(UserPreference, ctx.actor.id)
    if prefs is None:
        prefs = UserPreference(user_id=ctx.actor.id, notify_deployments=True, notify_billing=True)
        ctx.session.add(prefs)
    return prefs


@command("profile", "Change your display name and notifications")
def profile(ctx: Context, args: Args) -> Form:
    prefs = preferences(ctx)
    return Form(
        title="Your RAD profile",
        action_id="profile:save",
        submit_label="Save",
        inputs=(
            Input("display_name", "Display name", default=ctx.actor.display_name, max_length=NAME_MAX),
            Input("notify_deployments", "Tell me when my deployments finish", kind="bool", required=False,
                  default=prefs.notify_deployments),
            Input("notify_billing", "Send me billing notices", kind="bool", required=False,
                  default=prefs.notify_billing),
        ),
    )


@form("profile:save")
def save_profile(ctx: Context, values: Mapping[str, FormValue], state: str) -> Reply | FormErrors:
    name = str(values.get("display_name") or "").strip()
    if not name:
        return FormErrors({"display_name": "Enter a name."})
    if len(name) > NAME_MAX:
        return FormErrors({"display_name": f"Keep it to {NAME_MAX} characters."})
    prefs = preferences(ctx)
    ctx.actor.display_name = name
    prefs.notify_deployments = bool(values.get("notify_deployments"))
    prefs.notify_billing = bool(values.get("notify_billing"))
    ctx.audit("profile.update", target=f"user:{ctx.actor.id}")
    return Reply(text=f":white_check_mark: Saved. You are *{name}*; deployment notices "
                      f"{'on' if prefs.notify_deployments else 'off'}, billing notices "
                      f"{'on' if prefs.notify_billing else 'off'}.")
