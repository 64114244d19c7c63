"""``/rad home``, the Home tab being opened, and the job that publishes a Home again when it changes.

The content is one neutral view (``commands.views.home``). Slack shows it in the App Home tab: opening the
tab dispatches ``home:open``, which remembers that this identity opened it and returns the view to publish.
Afterwards ``core.home`` queues a ``home.publish`` job whenever what the Home shows changes; the job builds
the view in its transaction and returns the publish, which the worker runs after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from commands.framework.context import Context, JobContext
from commands.framework.messenger import HomePublisher
from commands.framework.registry import ActionEvent, AfterCommit, action, command, job
from commands.ui.model import Reply
from commands.views.home import home_view
from core import home
from core.accounts.identity import IdentityKey
from storage.models import User

log = logging.getLogger(__name__)
OPEN_ACTION = "home:open"
"""Dispatched by a front door when the user opens its Home tab (Slack's ``app_home_opened``)."""


@command("home", "Your home: credits, running deployments and pinned modules, with their buttons",
         details="On Slack the app's Home tab shows the same, and keeps it up to date.")
def show_home(ctx: Context) -> Reply:
    """The caller's Home as a private reply."""
    return home_view(ctx.session, ctx.actor, ctx.slash)


@action(OPEN_ACTION)
def opened(ctx: Context, event: ActionEvent) -> Reply:
    """The Home tab was opened: remember it (so it is refreshed when it changes) and return what it shows."""
    home.remember_opened(ctx.session, ctx.caller.key, ctx.now)
    shown = home_view(ctx.session, ctx.actor, ctx.slash)
    home.shown_now(ctx.session, ctx.actor)  # e.g. the sign-up credits of a first contact: already shown
    return shown


@job(home.KIND)
def publish(ctx: JobContext, payload: Mapping[str, Any]) -> AfterCommit | None:
    """Build the user's Home now; publish it to each Home tab they opened once the job's transaction is over."""
    user = ctx.session.get(User, int(payload["user_id"]))
    if user is None or not user.active:
        return None
    targets: list[tuple[HomePublisher, IdentityKey]] = []
    for key in home.home_identities(ctx.session, user):
        messenger = ctx.messengers.get(key.platform)
        if isinstance(messenger, HomePublisher):
            targets.append((messenger, key))
        else:
            log.info("no Home publisher in this process", extra={"platform": key.platform})
    if not targets:
        return None
    reply = home_view(ctx.session, user, f"/{ctx.config.command}")

    def send() -> None:
        for messenger, key in targets:
            messenger.publish_home(key, reply)

    return send
