"""The Jules client on httpx: every request has explicit timeouts, so a Jules that accepts the connection and
never answers costs a bounded wait and a clear message, and the key stays out of what the client shows."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from core.jules.client import JulesClient, JulesUnavailable


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers; its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1alpha"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def test_a_jules_that_never_answers_times_out_with_a_clear_message(silent_server: str) -> None:
    client = JulesClient("AIza-never-shown", silent_server, retries=1, backoff=0.01, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(JulesUnavailable, match="Jules is not answering right now") as raised:
        client.list_sources()
    assert time.monotonic() - started < 5, "two bounded tries, not a hang"
    assert "AIza-never-shown" not in str(raised.value) and "AIza-never-shown" not in repr(client)
    timeout = client._http.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (0.3, 0.3, 0.3, 0.3)
    client.close()
