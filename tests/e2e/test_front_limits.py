"""The HTTP front door's limits: body size, signature before parsing, malformed payloads, command length,
and the metrics token."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot.runtime import Runtime
from bot.web import BackgroundServer, start_background
from bot.wsgi import MAX_BODY_BYTES, BodyRefused, read_body
from tests.emulators.slack import SlackEmulator
from tests.support.http_raw import chunked, exchange
from tests.support.slack_support import SECRET, Harness, emulator, harness, running_harness, slack_runtime, texts

__all__ = ["emulator", "harness", "slack_runtime"]

METRICS_TOKEN = "metrics-token-5a1e"


def problems_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records that carry a traceback or are errors: none may come from a refused request."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def secrets_logged(caplog: pytest.LogCaptureFixture, *secrets: str) -> list[str]:
    everything = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    return [secret for secret in secrets if secret in everything]


# -- body size -------------------------------------------------------------------------------------

def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(harness: Harness) -> None:
    head = (f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {MAX_BODY_BYTES + 1}")
    answer = exchange(harness.server.url, head)
    assert answer.status == 413
    assert answer.sent == 0


def test_a_chunked_body_over_the_limit_is_refused_while_it_is_read(harness: Harness) -> None:
    head = ("POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked")
    answer = exchange(harness.server.url, head, chunked(b"x" * 65536, 512))  # 32 MiB offered
    assert answer.status == 413
    assert answer.sent < 32 * 1024 * 1024  # refused long before all was read (kernel buffers hold a few MiB)


def test_a_body_at_the_limit_is_read_and_then_judged_by_its_signature(harness: Harness) -> None:
    answer = harness.post("x" * MAX_BODY_BYTES, "application/json", signed=False)
    assert answer.status == 401


def test_read_body_stops_one_byte_past_the_limit_without_a_length() -> None:
    stream = io.BytesIO(b"y" * (3 * 1024))
    with pytest.raises(BodyRefused) as refused:
        read_body({"wsgi.input": stream}, limit=1024)
    assert refused.value.status.startswith("413")
    assert stream.tell() == 1025


def test_read_body_trusts_a_length_only_up_to_the_limit() -> None:
    short = io.BytesIO(b"z" * 4096)
    assert read_body({"wsgi.input": short, "CONTENT_LENGTH": "10"}, limit=1024) == b"z" * 10
    with pytest.raises(BodyRefused):
        read_body({"wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": "1025"}, limit=1024)
    with pytest.raises(BodyRefused) as bad:
        read_body({"wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": "ten"}, limit=1024)
    assert bad.value.status.startswith("400")


# -- Slack: signature before parsing, malformed payloads -------------------------------------------

MALFORMED = {
    "broken JSON": ("{not json", "application/json"),
    "a JSON list": ("[1, 2]", "application/json"),
    "deeply nested JSON": ("[" * 100_000 + "]" * 100_000, "application/json"),
    "team is a number": (json.dumps({"type": "block_actions", "team": 5, "user": {"id": "U1"}}), "application/json"),
    "team is a list": (json.dumps({"type": "block_actions", "team": ["T1"], "user": {"id": "U1"},
                                   "actions": [{"action_id": "a"}]}), "application/json"),
    "event is a string": (json.dumps({"type": "event_callback", "event": "x"}), "application/json"),
    "no actions": (json.dumps({"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"},
                               "actions": []}), "application/json"),
    "broken payload field": ("payload=%7Bnope", "application/x-www-form-urlencoded"),
    "payload field is a list": ("payload=%5B1%5D", "application/x-www-form-urlencoded"),
    "command without a team": ("command=%2Frad&text=help&user_id=U1", "application/x-www-form-urlencoded"),
    "nothing at all": ("{}", "application/json"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_signed_malformed_payload_is_400_without_a_traceback(harness: Harness, caplog: pytest.LogCaptureFixture,
                                                             case: str) -> None:
    body, content_type = MALFORMED[case]
    caplog.set_level(logging.DEBUG)
    answer = harness.post(body, content_type)
    harness.settle()
    assert (answer.status, answer.json()) == (400, {"error": "malformed payload"})
    assert problems_logged(caplog) == []
    refusals = [r for r in caplog.records if r.getMessage() == "malformed Slack payload refused"]
    assert len(refusals) == 1 and refusals[0].levelno == logging.WARNING
    assert harness.emulator.calls("chat.postMessage") == []


def test_a_signed_body_that_is_not_utf8_is_400(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    body = b'{"type": "event_callback", "x": "\xff"}'
    stamp = str(int(time.time()))
    signature = "v0=" + hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(harness.server.url + "/slack/events", data=body, headers={
        "Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert problems_logged(caplog) == []


@pytest.mark.parametrize("case", ["broken JSON", "deeply nested JSON", "team is a number"])
def test_an_unsigned_malformed_payload_is_401_and_never_parsed(harness: Harness, caplog: pytest.LogCaptureFixture,
                                                              case: str) -> None:
    body, content_type = MALFORMED[case]
    answer = harness.post(body, content_type, signed=False, headers={"X-Slack-Signature": "v0=" + "0" * 64})
    assert answer.status == 401
    assert problems_logged(caplog) == []
    assert not any("malformed" in r.getMessage() for r in caplog.records)  # refused before reading it


def test_a_timestamp_that_is_not_a_number_is_401_without_a_traceback(harness: Harness,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    answer = harness.post("{}", "application/json", signed=False, headers={"X-Slack-Request-Timestamp": "soon",
                                                                            "X-Slack-Signature": "v0=abc"})
    assert answer.status == 401
    assert problems_logged(caplog) == []


def test_slacks_unsigned_ssl_check_is_answered(harness: Harness) -> None:
    answer = harness.post("ssl_check=1&token=legacy", "application/x-www-form-urlencoded", signed=False)
    assert answer.status == 200


def test_socket_mode_malformed_payload_is_refused_in_one_line(harness: Harness,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    answer = harness.socket({"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"}, "actions": "x"})
    harness.settle()
    assert answer.status == 400
    assert problems_logged(caplog) == []


def test_a_command_mentioning_payload_still_runs(harness: Harness) -> None:
    answer = harness.command("help payload")
    assert answer.status == 200
    assert "There is no command `payload`" in texts(harness.reply(answer))


def test_secrets_never_reach_the_log(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    harness.post("{not json", "application/json")
    harness.post("{}", "application/json", signed=False)
    harness.command("help")
    harness.settle()
    assert secrets_logged(caplog, SECRET, "xoxb-test") == []


# -- the command text cap, through the Slack front door ----------------------------------------------

def test_a_100_kb_command_with_pathological_quoting_is_refused_naming_the_limit(harness: Harness) -> None:
    text = "deploy " + "'\"\\" * 33_000 + '"'
    answer = harness.command(text)
    assert answer.status == 200
    reply = texts(harness.reply(answer))
    assert "the limit is 4,000" in reply
    assert f"{len(text):,} characters" in reply


def test_a_command_at_the_cap_is_read(harness: Harness) -> None:
    text = "help " + '"' + "x" * 3990 + '"'
    assert len(text) <= 4000
    answer = harness.command(text)
    assert "There is no command" in texts(harness.reply(answer))


# -- /metrics ----------------------------------------------------------------------------------------

@pytest.fixture
def guarded_metrics(slack_runtime: Runtime) -> Iterator[BackgroundServer]:
    runtime = Runtime(replace(slack_runtime.config, metrics_token=METRICS_TOKEN), slack_runtime.db,
                      slack_runtime.registry, slack_runtime.dispatcher)
    server = start_background(runtime, None)
    yield server
    server.stop()


def get_status(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {METRICS_TOKEN}", "Bearer",
                                           f"Bearer {METRICS_TOKEN}x", "Bearer \u00e9t\u00e9"])
def test_metrics_need_the_bearer_token_when_one_is_set(guarded_metrics: BackgroundServer,
                                                       caplog: pytest.LogCaptureFixture,
                                                       authorization: str | None) -> None:
    headers = {"Authorization": authorization.encode("utf-8").decode("latin-1")} if authorization else {}
    status, body = get_status(guarded_metrics.url + "/metrics", headers)
    assert status == 401
    assert b"rad_http_requests" not in body
    assert secrets_logged(caplog, METRICS_TOKEN) == []


def test_metrics_with_the_token(guarded_metrics: BackgroundServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    status, body = get_status(guarded_metrics.url + "/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 200
    assert b"rad_http_requests" in body
    assert get_status(guarded_metrics.url + "/healthz")[0] == 200  # health stays open
    assert secrets_logged(caplog, METRICS_TOKEN) == []


def test_metrics_stay_open_without_a_token(harness: Harness) -> None:
    assert harness.get("/metrics").status == 200


def test_no_signing_secret_refuses_every_slack_request(slack_runtime: Runtime, emulator: SlackEmulator) -> None:
    runtime = Runtime(replace(slack_runtime.config, slack_signing_secret=""), slack_runtime.db,
                      slack_runtime.registry, slack_runtime.dispatcher)
    with running_harness(runtime, emulator) as running:
        assert running.command("help").status == 401
