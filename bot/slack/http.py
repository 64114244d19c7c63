"""``POST /slack/events``: Slack's HTTP mode, in front of the Bolt app.

In order: the body is read under the size limit (413), its signature is checked on the raw bytes (401, as
Bolt answers), and only then is it parsed and its shape checked (400, logged in one line without the payload).
Bolt's own WSGI adapter parses first and lets a parse error escape to the server, which logs a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl
from wsgiref.types import StartResponse, WSGIEnvironment

from slack_bolt import App, BoltContext, BoltRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.request.internals import build_context

from bot.slack.shapes import MalformedPayload, check_payload
from bot.wsgi import MAX_BODY_BYTES, BodyRefused, read_body, refuse, respond_json

log = logging.getLogger(__name__)

SIGNATURE_MAX_AGE = 5 * 60
"""Seconds a signed request stays valid (Slack's own rule, and Bolt's)."""


def slack_signature_ok(secret: str, body: bytes, timestamp: str, signature: str, now: float | None = None) -> bool:
    """Whether ``signature`` is ``v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>")`` and the timestamp is recent."""
    if not secret or not timestamp.isdigit() or not signature:
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_MAX_AGE:
        return False
    expected = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={expected}".encode(), signature.encode("utf-8", "replace"))


def is_ssl_check(body: bytes) -> bool:
    """Slack's unsigned SSL check of a slash command URL (``ssl_check=1&token=...``), which Bolt answers 200."""
    return b"ssl_check=1" in body.split(b"&")


class ReparsedRequest(BoltRequest):
    """A Bolt request that reads a form mentioning "payload" as a form.

    Bolt takes any form body containing the word "payload" for an interaction and reads it as empty, so
    ``/rad help payload`` (or a command from a channel named ``payload-team``) found no listener. The copy
    Bolt makes for lazy listeners keeps the body read here.
    """

    def __init__(self, *, body: str, query: str, headers: dict[str, str | Sequence[str]]) -> None:
        super().__init__(body=body, query=query, headers=headers)
        if not self.body and "payload" in body:
            form = dict(parse_qsl(body, keep_blank_values=True))
            if "payload" not in form:
                self.body = form
                self.context = build_context(BoltContext({}), form)

    def to_copyable(self) -> BoltRequest:
        """A copy for a lazy listener that keeps the body read here."""
        copied = super().to_copyable()
        copied.body = self.body
        return copied


def bolt_request(raw: str, query: str, headers: dict[str, str | Sequence[str]]) -> BoltRequest:
    """The Bolt request for a verified body, refused when it is not a Slack payload this app can read.

    Raises:
        MalformedPayload: the body does not parse, or its fields have impossible shapes.
    """
    try:
        request = ReparsedRequest(body=raw, query=query, headers=headers)  # parses, and reads ids from it
    except Exception as error:
        raise MalformedPayload(f"the body could not be read ({type(error).__name__})") from None
    check_payload(request.body)
    return request


class SlackHttpHandler:
    """The WSGI app for Slack's signed requests; the Bolt app does the rest."""

    def __init__(self, app: App, signing_secret: str, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.signing_secret = signing_secret
        self.max_body = max_body

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Check a Slack request's size, signature and payload, then let the Bolt app answer it."""
        try:
            body = read_body(environ, self.max_body)
        except BodyRefused as refused:
            log.warning("Slack request refused", extra={"reason": refused.message})
            return refuse(start_response, refused)
        timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""))
        signature = str(environ.get("HTTP_X_SLACK_SIGNATURE", ""))
        if not slack_signature_ok(self.signing_secret, body, timestamp, signature):
            if is_ssl_check(body):
                return respond_json(start_response, "200 OK", {})
            log.warning("Slack request with a bad signature refused", extra={"bytes": len(body)})
            return respond_json(start_response, "401 Unauthorized", {"error": "invalid request"})
        try:
            request = bolt_request(body.decode("utf-8"), str(environ.get("QUERY_STRING", "")), headers_of(environ))
        except (UnicodeDecodeError, MalformedPayload) as error:
            reason = str(error) if isinstance(error, MalformedPayload) else "the body is not UTF-8"
            log.warning("malformed Slack payload refused", extra={"reason": reason, "bytes": len(body)})
            return respond_json(start_response, "400 Bad Request", {"error": "malformed payload"})
        answer = self.app.dispatch(request)
        response = WsgiHttpResponse(status=answer.status, headers=answer.headers, body=answer.body)
        start_response(response.status, response.get_headers())
        return response.get_body()


def headers_of(environ: WSGIEnvironment) -> dict[str, str | Sequence[str]]:
    """The request headers by lower-case name, as Bolt's WSGI adapter reads them."""
    headers: dict[str, str | Sequence[str]] = {key.lower().replace("_", "-"): str(value)
                                               for key, value in environ.items()
                                               if key in ("CONTENT_LENGTH", "CONTENT_TYPE")}
    headers.update({key[5:].lower().replace("_", "-"): str(value) for key, value in environ.items()
                    if key.startswith("HTTP_")})
    return headers
