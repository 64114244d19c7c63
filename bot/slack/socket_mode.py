"""Socket Mode: the Bolt app over Slack's websocket (no public URL needed), started and stopped by the runner."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

log = logging.getLogger(__name__)


def start_socket_mode(app: App, app_token: str) -> SocketModeHandler:
    """Connect (non-blocking) with the ``xapp-`` app-level token; ``stop_socket_mode`` closes it.

    The handler's Web API calls (``apps.connections.open``) go through ``app.client``, so
    ``SLACK_API_URL`` applies to them too.
    """
    if not app_token:
        raise ValueError("Socket Mode needs SLACK_APP_TOKEN (an xapp- app-level token with connections:write)")
    handler = SocketModeHandler(app, app_token)
    handler.connect()  # type: ignore[no-untyped-call]
    log.info("Slack Socket Mode connected")
    return handler


def stop_socket_mode(handler: SocketModeHandler) -> None:
    """Disconnect and release the handler's threads."""
    handler.close()  # type: ignore[no-untyped-call]
    log.info("Slack Socket Mode closed")
