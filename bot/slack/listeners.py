"""The Bolt listeners: each turns one Slack payload into one dispatcher call and delivers the outcome.

Commands, clicks, slow forms, thread messages and Home openings are acked at once and queued as jobs
(``bot.slack.queued``); a worker runs their second half (``run_command``, ``run_action``...). Quick forms and
select options are answered in the ack itself, as Slack requires.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import Ack, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.runtime import Runtime
from bot.slack import limits, payloads, queued, slow, suggestions
from bot.slack.deliver import Destination, send_reply
from bot.slack.home import from_home, redraws_home, render_home
from bot.slack.modals import FormMeta, errors_response, form_metadata, form_values, length_errors, render_form
from bot.slack.slow import Respond
from commands.framework.registry import ActionEvent
from commands.handlers.home import OPEN_ACTION
from commands.ui.model import LINK_ACTION, Form, FormErrors, Option, Outcome, Reply
from core.accounts.identity import Caller, IdentityKey
from core.conversations import ConversationRef
from core.incidents import Incident, new_incident

log = logging.getLogger(__name__)

NAME_CACHE_SIZE = 10_000
BARE_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")
MENTIONS_NAMED_MAX = 5
"""The most name-less mentions of one command looked up (``users.info``); the rest go as they are."""
SLACK_ERROR_HINTS = {
    "not_in_channel": "I am not in this channel: invite me with `/invite` and try again.",
    "channel_not_found": "I cannot see this channel: invite me with `/invite` and try again.",
    "expired_trigger_id": "That took too long to open. Please run the command again.",
    "ratelimited": "Slack asked me to slow down. Please try again in a minute.",
}


def new_error_id() -> str:
    """A fresh error id, to log with an unexpected error and show to the user."""
    return new_incident().error_id


def oops(error_id: str) -> str:
    """What the user sees for the unexpected error ``error_id``."""
    return Incident(error_id).message


def errors_reply(errors: FormErrors) -> Reply:
    """Form errors that can no longer be shown in the form (it was closed): a private list."""
    lines = "\n".join(f"• {text}" for text in errors.errors.values() if text.strip())
    return Reply(text=f":warning: That was not accepted:\n{lines or '• Please try again.'}", ephemeral=True)


def submission_place(caller: Caller, meta: FormMeta) -> tuple[ConversationRef, Destination]:
    """Where a submitted form was opened from (its ``private_metadata``), and where its outcome goes."""
    where = ConversationRef("slack", caller.key.workspace, meta.channel, thread=meta.thread)
    return where, Destination(channel=meta.channel, user=caller.key.external_id, thread=meta.thread)


def view_delivery(body: dict[str, Any], view: dict[str, Any]) -> str:
    """The delivery key of a submission: a repeat of the same one is dropped by the dispatcher."""
    return f"slack:view:{body.get('trigger_id') or view.get('id')}:{view.get('hash', '')}"


class SlackFrontDoor:
    """Bolt listeners bound to a runtime. Acks store the request as a job; a worker runs the rest."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.dispatcher = runtime.dispatcher
        self._names: dict[str, str] = {}

    # -- slash command ------------------------------------------------------------------------------

    def queue_command(self, ack: Ack, body: dict[str, Any]) -> None:
        """Store the command as a job, then ack (Slack allows 3 seconds; this path is benchmarked).

        When it cannot be stored (the database is down) the user is told so in the ack, with an error id.
        """
        try:
            queued.queue(self.runtime, queued.COMMAND, body)
        except Exception:
            error_id = new_error_id()
            log.exception("Slack command could not be queued", extra={"error_id": error_id})
            ack(text=oops(error_id))
            return
        ack()

    def run_command(self, body: dict[str, Any], respond: Respond | None, client: WebClient, *,
                    age: float = 0.0) -> None:
        """Second half (a worker): run the command; a slow one shows a placeholder first, which the outcome replaces.

        ``age`` is the seconds since the ack, so a ``trigger_id`` is known stale (3 seconds) however long it queued.
        """
        caller, where = payloads.command_caller(body), payloads.command_where(body)
        text, placeholder = self.named_mentions(client, str(body.get("text", ""))), slow.for_command(age)
        to = Destination(channel=where.channel, user=caller.key.external_id, respond=respond,
                         placeholder=placeholder)
        trigger = str(body.get("trigger_id") or "")
        with self.guarded(client, to, "command"):
            if respond is not None and self.dispatcher.is_slow_command(text, caller):
                slow.show(placeholder, respond)
            outcome = self.dispatcher.run_text(caller, text, where=where,
                                               delivery=f"slack:command:{trigger}" if trigger else None)
            self.deliver(client, to, outcome, where=where, trigger_id=trigger)

    # -- buttons and selects ------------------------------------------------------------------------

    def queue_action(self, ack: Ack, body: dict[str, Any]) -> None:
        """Store a click or a choice as a job, then ack; ``run_action`` does the work in a worker.

        When it cannot be stored, the error reaches ``on_error`` and Slack shows the click as failed (500).
        """
        queued.queue(self.runtime, queued.ACTION, body)
        ack()

    def run_action(self, body: dict[str, Any], respond: Respond | None, client: WebClient, *,
                   age: float = 0.0) -> None:
        """Second half: run a click, a choice or a search; a slow one first replaces the message by a placeholder."""
        if not body.get("response_url"):
            respond = None  # a click on the Home tab: there is no response_url; replies go by direct message
        caller, where = payloads.interaction_caller(body), payloads.interaction_where(body)
        placeholder = slow.for_action(body, age)
        to = Destination(channel=where.channel, user=caller.key.external_id, thread=where.thread, respond=respond,
                         placeholder=placeholder)
        with self.guarded(client, to, "action"):
            action = body["actions"][0]
            event = payloads.action_event(action)
            if event.action_id == LINK_ACTION:
                return  # a link button (a Checkout page): the browser opened it, there is nothing to run
            if respond is not None and self.dispatcher.is_slow_action(event.action_id):
                slow.show(placeholder, respond)
            stamp = action.get("action_ts") or body.get("trigger_id")
            delivery = f"slack:action:{stamp}:{caller.key.external_id}" if stamp else None
            outcome = self.dispatcher.run_action(caller, event, where=where, delivery=delivery)
            if from_home(body) and isinstance(outcome, Reply) and redraws_home(outcome):
                outcome = None  # the Home tab has no message to redraw: its refresh (core.home) shows the change
            self.deliver(client, to, outcome, where=where, trigger_id=str(body.get("trigger_id", "")))

    # -- the App Home tab ---------------------------------------------------------------------------

    def queue_home(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """``app_home_opened`` on the Home tab: queued for ``on_home_opened`` (Bolt acks events itself)."""
        if event.get("tab") == "home" and event.get("user"):
            queued.queue(self.runtime, queued.HOME, body)

    def on_home_opened(self, body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
        """``app_home_opened`` on the Home tab: remember it was opened and publish the user's Home now.

        A click on the Home tab arrives as a block action without a channel or ``response_url``: its replies go
        to the user's direct messages and its forms open as modals (``run_action``).
        """
        user = str(event.get("user") or "")
        if event.get("tab") != "home" or not user:
            return  # the Messages tab, or a payload without a user
        team = str(body.get("team_id") or (event.get("view") or {}).get("team_id") or "")
        event_id = body.get("event_id")
        try:
            caller = Caller(IdentityKey(payloads.PLATFORM, team, user), self.display_name(client, user))
            outcome = self.dispatcher.run_action(caller, ActionEvent(OPEN_ACTION),
                                                 delivery=f"slack:event:{event_id}" if event_id else None)
            if isinstance(outcome, Reply):
                client.views_publish(user_id=user, view=render_home(outcome, self.dispatcher.slash))
        except SlackApiError as error:
            log.error("Home tab publish failed", extra={"error_id": new_error_id(),
                                                        "slack_error": error.response.get("error")})
        except Exception:
            log.exception("Home tab failed", extra={"error_id": new_error_id()})

    # -- modal submissions ---------------------------------------------------------------------------

    def submit_view(self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        """Run a quick form inline (its errors go back in the ack); close a slow one at once."""
        form_id = str(view.get("callback_id", ""))
        if self.dispatcher.is_slow_form(form_id):
            queued.queue(self.runtime, queued.FORM, body)
            ack()  # closes the modal within Slack's 3 seconds; run_slow_form delivers the outcome (a worker)
            return
        caller, meta = payloads.interaction_caller(body), form_metadata(view)
        where, to = submission_place(caller, meta)
        too_long = length_errors(view)
        if too_long:
            ack(**errors_response(FormErrors(too_long), view))
            return
        try:
            outcome = self.dispatcher.submit_form(caller, form_id, form_values(view), meta.state, where=where,
                                                  delivery=view_delivery(body, view))
        except Exception:
            error_id = new_error_id()
            log.exception("form submission failed", extra={"error_id": error_id})
            ack(response_action="errors", errors=errors_response(FormErrors({"": oops(error_id)}), view)["errors"])
            return
        if isinstance(outcome, FormErrors):
            ack(**errors_response(outcome, view))
        elif isinstance(outcome, Form):
            ack(response_action="update", view=render_form(outcome, channel=meta.channel, thread=meta.thread))
        else:
            ack()
            if outcome is not None:
                with self.guarded(client, to, "form reply"):
                    send_reply(client, to, outcome)

    def run_slow_form(self, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        """Second half of ``submit_view``: run a slow form and post its outcome to the user in the form's channel.

        The outcome is private unless the Reply is public, and goes by direct message when there is no channel.
        """
        form_id = str(view.get("callback_id", ""))
        if not self.dispatcher.is_slow_form(form_id):
            return
        caller, meta = payloads.interaction_caller(body), form_metadata(view)
        where, to = submission_place(caller, meta)
        with self.guarded(client, to, "slow form"):
            outcome = self.dispatcher.submit_form(caller, form_id, form_values(view), meta.state, where=where,
                                                  delivery=view_delivery(body, view))
            self.deliver(client, to, outcome, where=where, trigger_id=str(body.get("trigger_id") or ""))

    # -- searchable selects -------------------------------------------------------------------------

    def suggest(self, ack: Ack, body: dict[str, Any]) -> None:
        """Answer a ``block_suggestion`` with the options provider's matches; no options when it fails."""
        request = payloads.suggestion_request(body)
        found: list[Option] = []
        if request is not None:
            try:
                found = self.dispatcher.suggest(payloads.interaction_caller(body), request.provider, request.query,
                                                request.value, limit=limits.SELECT_OPTIONS)
            except Exception:
                log.exception("options search failed",
                              extra={"error_id": new_error_id(), "provider": request.provider})
        ack(options=suggestions.options_answer(found))

    # -- messages in bound threads ------------------------------------------------------------------

    def queue_message(self, body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]) -> None:
        """A reply in a thread is queued for ``on_message``; other channel messages are not stored at all."""
        if payloads.is_thread_reply(event) and str(event.get("text", "")).strip():
            queued.queue(self.runtime, queued.MESSAGE, body, bot_user_id=str(context.get("bot_user_id") or ""))

    def on_message(self, body: dict[str, Any], event: dict[str, Any], client: WebClient,
                   context: dict[str, Any]) -> None:
        """A reply in a bound thread goes to the thread's handler, without the mention of the bot."""
        if not payloads.is_thread_reply(event):
            return
        text = str(event.get("text", ""))
        if context.get("bot_user_id"):
            text = text.replace(f"<@{context['bot_user_id']}>", "").strip()
        if not text:
            return
        where = payloads.message_where(body, event)
        user = str(event["user"])
        to = Destination(channel=where.channel, user=user, thread=where.thread, in_thread=True)
        with self.guarded(client, to, "thread message"):
            caller = payloads.message_caller(body, event, self.display_name(client, user))
            delivery = f"slack:event:{body.get('event_id') or where.channel + ':' + where.message}"
            outcome = self.dispatcher.thread_message(caller, where, text, delivery=delivery)
            self.deliver(client, to, outcome, where=where)

    def named_mentions(self, client: WebClient, text: str) -> str:
        """Mentions without a name (``<@U123>``) given the user's Slack name (``<@U123|name>``), looked up once.

        So a user granted a role before they ever used RAD is registered under their name, not their id.
        """
        def named(found: re.Match[str]) -> str:
            name = self.display_name(client, found.group(1)).replace(">", "").replace("|", "")
            return f"<@{found.group(1)}|{name}>" if name else found.group(0)

        return BARE_MENTION.sub(named, text, count=MENTIONS_NAMED_MAX) if "<@" in text else text

    def display_name(self, client: WebClient, user: str) -> str:
        """The user's Slack display name (``users.info``, cached); empty when it cannot be read."""
        if user not in self._names:
            try:
                profile = client.users_info(user=user)["user"]
                name = profile.get("profile", {}).get("display_name") or profile.get("real_name") or ""
            except SlackApiError as error:
                log.info("users.info failed", extra={"slack_error": error.response.get("error")})
                return ""
            if len(self._names) >= NAME_CACHE_SIZE:
                self._names.clear()
            self._names[user] = str(name)
        return self._names[user]

    # -- shared -------------------------------------------------------------------------------------

    def deliver(self, client: WebClient, to: Destination, outcome: Outcome | None, *, where: ConversationRef,
                trigger_id: str = "") -> None:
        """Show an outcome: post a Reply, open a Form as a modal; a slow request's placeholder gives way."""
        held = to.held()
        if isinstance(outcome, Reply):
            send_reply(client, to, outcome)
        elif isinstance(outcome, Form):
            if trigger_id and (held is None or held.trigger_fresh):
                client.views_open(trigger_id=trigger_id,
                                  view=render_form(outcome, channel=where.channel, thread=where.thread))
                to.settle()
            elif trigger_id:
                send_reply(client, to, Reply(text=slow.STALE_FORM.format(title=outcome.title)))
            else:
                send_reply(client, to, Reply(text=f"_{outcome.title}_ opens a form; run "
                                                  f"`{self.dispatcher.slash} help` to find its command."))
        elif isinstance(outcome, FormErrors):
            send_reply(client, to, errors_reply(outcome))
        else:
            to.settle()  # nothing to show (a repeated delivery): the placeholder goes

    @contextmanager
    def guarded(self, client: WebClient, to: Destination, label: str) -> Iterator[None]:
        """Turn any failure into a logged error with an id that the user sees; never let it escape."""
        try:
            yield
        except SlackApiError as error:
            error_id, code = new_error_id(), str(error.response.get("error", "unknown"))
            log.error("Slack API call failed", extra={"error_id": error_id, "label": label, "slack_error": code})
            hint = SLACK_ERROR_HINTS.get(code)
            self.tell(client, to, f":warning: {hint} (error id `{error_id}`)" if hint else oops(error_id))
        except Exception:
            error_id = new_error_id()
            log.exception("Slack listener failed", extra={"error_id": error_id, "label": label})
            self.tell(client, to, oops(error_id))

    @staticmethod
    def tell(client: WebClient, to: Destination, text: str) -> None:
        """Best effort: show ``text`` to the user privately."""
        try:
            send_reply(client, to, Reply(text=text, ephemeral=True))
        except Exception:
            log.exception("could not tell the user about an error")

    def on_error(self, error: Exception, body: dict[str, Any], response: BoltResponse | None) -> BoltResponse | None:
        """Bolt's global error handler: log with an id; a slash command not yet answered shows the id."""
        error_id = new_error_id()
        log.error("unexpected Slack error", exc_info=error,
                  extra={"error_id": error_id, "payload_type": body.get("type") or body.get("command")})
        if response is not None and body.get("command"):
            return BoltResponse(status=200, body=oops(error_id))
        return None
