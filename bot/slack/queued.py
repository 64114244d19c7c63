"""Slack work off the ack path: a verified payload becomes one job row, and any worker process runs it.

The ack listeners (``bot.slack.listeners``) call ``queue``: one INSERT, then Slack's ack, so an ack never
waits on a command's work or on another request's. A worker claims the job (``bot.worker``) and
``SlackWork.run`` runs the listener's second half: the dispatcher, then the answer through the
``response_url`` or the Web API. The request is stored sealed with the secret box (it may carry a typed secret,
and its ``response_url``), without Slack's legacy verification token, and is never logged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from bot.runtime import Runtime
from bot.slack.payloads import team_of
from bot.slack.workspaces import NotInstalled, OneWorkspace, Workspaces
from commands.framework.context import JobContext
from commands.framework.messenger import Messenger
from commands.framework.registry import JobHandler
from core.jobs import queue as jobs

log = logging.getLogger(__name__)

COMMAND, ACTION, FORM, MESSAGE, HOME = "slack.command", "slack.action", "slack.form", "slack.message", "slack.home"
KINDS = (COMMAND, ACTION, FORM, MESSAGE, HOME)
RESPONSE_URL_LIFETIME = 30 * 60
"""Seconds a ``response_url`` works (Slack); a request older than that is not run: nobody could be answered."""
LEFT_OUT = frozenset({"token", "response_urls"})
"""Body fields never stored: Slack's legacy verification token, and the response URLs of a form (unused)."""


def job_payload(runtime: Runtime, body: Mapping[str, Any], *, bot_user_id: str = "") -> dict[str, Any]:
    """What a job carries: the request sealed whole, and when it was acked.

    Sealed, because a request can hold a secret (a token typed into a modal) and its ``response_url`` is, for 30
    minutes, a right to post in the channel; neither may sit readable in the database.
    """
    kept = json.dumps({k: v for k, v in body.items() if k not in LEFT_OUT}, separators=(",", ":"))
    payload: dict[str, Any] = {"request": runtime.dispatcher.services.secrets.seal(kept), "acked_at": time.time()}
    if bot_user_id:
        payload["bot_user_id"] = bot_user_id
    return payload


def queue(runtime: Runtime, kind: str, body: Mapping[str, Any], *, bot_user_id: str = "") -> None:
    """Store one Slack request as a job of ``kind`` (one INSERT, committed before Slack is answered)."""
    jobs.enqueue_alone(runtime.db, kind, job_payload(runtime, body, bot_user_id=bot_user_id))


class SlackWork:
    """Runs queued Slack requests with the listeners' second halves; one per worker process.

    Each request is answered with the token of the workspace it came from (``clients``: one client for every
    workspace, or the OAuth installations); a request from a workspace that has since uninstalled the app is
    not run, with one log line.
    """

    def __init__(self, runtime: Runtime, clients: WebClient | Workspaces) -> None:
        from bot.slack.listeners import SlackFrontDoor

        self.runtime = runtime
        self.workspaces: Workspaces = OneWorkspace(clients) if isinstance(clients, WebClient) else clients
        self.door = SlackFrontDoor(runtime)

    def run(self, kind: str, payload: Mapping[str, Any]) -> None:
        """Run one queued request and answer it; failures are shown to the user by the listeners, never raised."""
        age = max(0.0, time.time() - float(payload.get("acked_at") or time.time()))
        if age > RESPONSE_URL_LIFETIME:
            log.warning("Slack request too old to answer, not run", extra={"kind": kind, "age_seconds": int(age)})
            return
        body: dict[str, Any] = json.loads(self.runtime.dispatcher.services.secrets.open(str(payload["request"])))
        try:
            client = self.workspaces.client_for(team_of(body))
        except NotInstalled as gone:
            log.warning("Slack request not run: the app is no longer installed in its workspace",
                        extra={"kind": kind, "team_id": gone.team_id})
            return
        respond = Respond(response_url=str(body["response_url"])) if body.get("response_url") else None
        door = self.door
        if kind == COMMAND:
            door.run_command(body, respond, client, age=age)
        elif kind == ACTION:
            door.run_action(body, respond, client, age=age)
        elif kind == FORM:
            door.run_slow_form(body, dict(body.get("view") or {}), client)
        elif kind == MESSAGE:
            door.on_message(body, dict(body.get("event") or {}), client,
                            {"bot_user_id": str(payload.get("bot_user_id") or "")})
        elif kind == HOME:
            door.on_home_opened(body, dict(body.get("event") or {}), client)
        else:
            raise ValueError(f"not a Slack job kind: {kind!r}")


def job_handlers(runtime: Runtime, messengers: Mapping[str, Messenger]) -> dict[str, JobHandler]:
    """The worker's handlers of the Slack kinds; each runs its request after the (empty) job transaction.

    The workspaces' clients are the Slack messenger's (its bot token, or the OAuth installations), built on
    first use.
    """
    built: list[SlackWork] = []

    def work() -> SlackWork:
        if not built:
            from bot.slack.app import make_client, make_workspaces

            messenger = messengers.get("slack")
            workspaces = getattr(messenger, "workspaces", None)
            client = getattr(messenger, "client", None)
            if workspaces is None:
                workspaces = make_workspaces(runtime, client if isinstance(client, WebClient)
                                             else make_client(runtime.config))
            built.append(SlackWork(runtime, workspaces))
        return built[0]

    def handler(kind: str) -> JobHandler:
        def run(_ctx: JobContext, payload: Mapping[str, Any]) -> Callable[[], None]:
            return lambda: work().run(kind, payload)

        return run

    return {kind: handler(kind) for kind in KINDS}
