"""One Terraform command as a child process: no shell, its own session, bounded output, killed whole on timeout.

Output is read by two threads into bounded buffers, so a command that prints gigabytes costs the bot at most
``limit`` bytes per stream (the first and the last halves are kept). The command is killed when its time is up
or when ``cancel`` is set (the worker lost the run's lease).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

KILL_GRACE = 5.0
"""Seconds to collect what a killed process group wrote before giving up on its pipes."""
STOP_REQUEST = b"stop\n"
"""Written to a command's standard input to ask it to stop gracefully (see :mod:`core.terraform.child`)."""
DEFAULT_LIMIT = 4 * 1024 * 1024
_CHUNK = 65536
_POLL = 0.1


@dataclass(frozen=True)
class ProcessResult:
    """How a child process ended.

    ``returncode`` is None when it timed out, was cancelled or could not start; ``start_error`` says why it
    could not start; ``truncated`` names the streams whose middle was dropped at the limit.
    """

    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    start_error: str = ""
    cancelled: bool = False
    truncated: tuple[str, ...] = ()


class _Capped:
    """The first and the last ``limit / 2`` bytes of a stream, and how many bytes were dropped between them."""

    def __init__(self, limit: int) -> None:
        self.half = max(limit // 2, 1)
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data:
            return
        self.tail += data
        if len(self.tail) > self.half:
            cut = len(self.tail) - self.half
            self.dropped += cut
            del self.tail[:cut]

    def text(self) -> str:
        middle = f"\n[... {self.dropped} bytes of output dropped ...]\n".encode() if self.dropped else b""
        return bytes(self.head + middle + self.tail).decode("utf-8", errors="replace")


def _drain(pipe: IO[bytes], into: _Capped) -> None:
    with contextlib.suppress(OSError, ValueError):
        while chunk := pipe.read1(_CHUNK):  # type: ignore[attr-defined]
            into.add(chunk)


def run_process(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float,
                limit: int = DEFAULT_LIMIT, cancel: threading.Event | None = None,
                preexec: Callable[[], None] | None = None, stop_grace: float = 0.0) -> ProcessResult:
    """Run ``argv`` in ``cwd`` with exactly ``env``; stop it after ``timeout`` s or on ``cancel``.

    Stopping first writes :data:`STOP_REQUEST` to its standard input and waits up to ``stop_grace`` seconds
    for it to end by itself (Terraform then writes its state); then its whole session is killed.
    """
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True, close_fds=True, preexec_fn=preexec,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return ProcessResult(None, "", "", time.monotonic() - started, start_error=f"{argv[0]}: {reason}")
    out, err = _Capped(limit), _Capped(limit)
    readers = [threading.Thread(target=_drain, args=(pipe, buffer), daemon=True)
               for pipe, buffer in ((proc.stdout, out), (proc.stderr, err)) if pipe is not None]
    for reader in readers:
        reader.start()
    deadline = started + max(timeout, 0.0)
    timed_out = cancelled = False
    try:
        while proc.poll() is None:
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            if time.monotonic() >= deadline:
                timed_out = True
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(min(_POLL, max(deadline - time.monotonic(), 0.0)))
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    if timed_out or cancelled:
        _ask_to_stop(proc, stop_grace)
        _kill_group(proc)
        proc.wait()
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    _finish_reading(proc, readers)
    truncated = tuple(name for name, buffer in (("stdout", out), ("stderr", err)) if buffer.dropped)
    return ProcessResult(None if timed_out or cancelled else proc.returncode, out.text(), err.text(),
                         time.monotonic() - started, timed_out, cancelled=cancelled, truncated=truncated)


def _ask_to_stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Ask the process to stop by itself and give it ``grace`` seconds to do so."""
    if grace <= 0 or proc.stdin is None:
        return
    try:
        proc.stdin.write(STOP_REQUEST)
        proc.stdin.flush()
    except OSError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (the child leads it, and is not yet reaped, so the id is still ours)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _finish_reading(proc: subprocess.Popen[bytes], readers: list[threading.Thread]) -> None:
    """Wait for the readers; a descendant that left the group and kept the pipes open is not waited for."""
    deadline = time.monotonic() + KILL_GRACE
    for reader in readers:
        reader.join(max(deadline - time.monotonic(), 0.0))
    if any(reader.is_alive() for reader in readers):
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
