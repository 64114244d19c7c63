"""The Messenger port for Slack: background work posts and edits with the bot token of the conversation's workspace.

In single-workspace mode that is ``SLACK_BOT_TOKEN``; with OAuth it is the installation's token of
``ConversationRef.workspace`` (the team id), looked up at each call, so a token refreshed, revoked or reinstalled
elsewhere is seen at once. A workspace without an installation raises ``NotInstalled`` and a token Slack refuses
raises its ``SlackApiError`` (logged with the team and Slack's error code only): the outbox keeps the post and
retries it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.deliver import Destination, upload
from bot.slack.home import render_home
from bot.slack.render import render_reply
from bot.slack.workspaces import OneWorkspace, Workspaces, slack_error
from commands.ui.model import Reply
from core.accounts.identity import IdentityKey
from core.conversations import ConversationRef
from core.network import assert_no_transaction

log = logging.getLogger(__name__)

STATUS_REFUSALS = frozenset({"missing_scope", "not_allowed_token_type", "access_denied", "no_permission",
                             "not_allowed", "feature_not_enabled", "team_access_not_granted", "method_deprecated",
                             "unknown_method"})
"""``assistant.threads.setStatus`` errors that mean "not for this app or workspace": the status message is shown
instead. A thread or channel that is gone (``invalid_thread_ts``, ``channel_not_found``) raises like a failed
post, so the outbox gives up on it and the relay ends the session."""
STATUS_MAX = 100
TOKEN_REFUSALS = frozenset({"token_revoked", "invalid_auth", "account_inactive", "token_expired", "not_authed"})
"""Errors that mean the workspace's token no longer works (revoked, app uninstalled): it must be installed again."""


class SlackMessenger:
    """``chat.postMessage`` / ``chat.update`` / ``files_upload_v2``; callable from any thread.

    Background messages are public (an ephemeral message needs a live user request).
    """

    platform = "slack"

    def __init__(self, client: WebClient, slash: str = "/rad", *, workspaces: Workspaces | None = None) -> None:
        self.client = client
        self.workspaces = workspaces or OneWorkspace(client)
        """Who speaks for each workspace (``client`` for all of them in single-workspace mode)."""
        self.slash = slash  # the configured command (RAD_COMMAND), for hints the messenger adds itself
        self._no_status: set[str] = set()
        """Channels where ``assistant.threads.setStatus`` was refused."""

    def post(self, where: ConversationRef, reply: Reply) -> ConversationRef:
        """Post in ``where`` (in its thread if it has one); returns the first message's reference."""
        assert_no_transaction("SlackMessenger.post")
        rendered = render_reply(reply)
        first, channel = "", where.channel
        client = self.workspaces.client_for(where.workspace)
        with refused_tokens_logged(where.workspace):
            for payload in rendered.messages:
                answer = client.chat_postMessage(channel=where.channel, text=payload["text"],
                                                 blocks=payload["blocks"], thread_ts=where.thread or None)
                first = first or str(answer["ts"])
                channel = str(answer.get("channel") or channel)  # a post to a user id lands in their DM channel
            if rendered.files:
                upload(client, Destination(where.channel, ""), rendered, ephemeral=False, thread=where.thread)
        return ConversationRef(where.platform, where.workspace, channel, where.thread, first)

    def edit(self, where: ConversationRef, reply: Reply) -> None:
        """Replace ``where.message``; what does not fit in one message is posted after it, in its thread."""
        if not where.message:
            raise ValueError("edit needs the message to replace (ConversationRef.message)")
        assert_no_transaction("SlackMessenger.edit")
        rendered = render_reply(reply)
        head, *rest = rendered.messages or ({"text": " ", "blocks": []},)
        client = self.workspaces.client_for(where.workspace)
        thread = where.thread or where.message
        with refused_tokens_logged(where.workspace):
            client.chat_update(channel=where.channel, ts=where.message, text=head["text"], blocks=head["blocks"])
            for payload in rest:
                client.chat_postMessage(channel=where.channel, thread_ts=thread, text=payload["text"],
                                        blocks=payload["blocks"])
            if rendered.files:
                upload(client, Destination(where.channel, ""), rendered, ephemeral=False, thread=thread)
        if rest:
            log.info("edited message continued in its thread", extra={"extra_messages": len(rest)})

    def set_status(self, where: ConversationRef, status: str) -> bool:
        """The thread's working status (``assistant.threads.setStatus``; "" clears it); False when refused.

        A refusal (the app has no assistant scope, the workspace does not allow it) is remembered for the
        channel, so later statuses go straight to the status message; other errors (rate limits, Slack down)
        raise, and the outbox retries.
        """
        if not where.thread or where.channel in self._no_status:
            return False
        assert_no_transaction("SlackMessenger.set_status")
        client = self.workspaces.client_for(where.workspace)
        try:
            client.assistant_threads_setStatus(channel_id=where.channel, thread_ts=where.thread,
                                                    status=status[:STATUS_MAX])
        except SlackApiError as error:
            code = str(error.response.get("error", "")) if error.response is not None else ""
            if code not in STATUS_REFUSALS:
                raise
            self._no_status.add(where.channel)
            log.info("thread status refused, using a status message", extra={"error": code})
            return False
        return True

    def publish_home(self, user: IdentityKey, reply: Reply) -> None:
        """Show ``reply`` as the user's App Home tab (``views.publish`` replaces what it showed)."""
        assert_no_transaction("SlackMessenger.publish_home")
        client = self.workspaces.client_for(user.workspace)
        with refused_tokens_logged(user.workspace):
            client.views_publish(user_id=user.external_id, view=render_home(reply, self.slash))

    def notify(self, user: IdentityKey, reply: Reply) -> ConversationRef:
        """A direct message: posting to a user id writes in the app's conversation with them; returns it."""
        return self.post(ConversationRef("slack", user.workspace, channel=user.external_id), reply)


@contextmanager
def refused_tokens_logged(team_id: str) -> Iterator[None]:
    """Log, in one line without the token, that Slack refused the workspace's token; the error goes on."""
    try:
        yield
    except SlackApiError as error:
        code = slack_error(error)
        if code in TOKEN_REFUSALS:
            log.warning("Slack refused the workspace's token: the post is kept and retried; reinstall the app there",
                        extra={"team_id": team_id, "slack_error": code})
        raise
