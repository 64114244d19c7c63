"""One Terraform command as a child process: no shell, its own process group, killed whole on timeout."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

KILL_GRACE = 5.0
"""Seconds to collect what a killed process group wrote before giving up on its pipes."""


@dataclass(frozen=True)
class ProcessResult:
    """How a child process ended.

    ``returncode`` is None when it timed out or could not start; ``start_error`` says why it could not start.
    """

    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    start_error: str = ""


def run_process(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> ProcessResult:
    """Run ``argv`` in ``cwd`` with exactly ``env``; after ``timeout`` seconds kill its whole process group."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True, close_fds=True,
        )
    except OSError as exc:
        return ProcessResult(None, "", "", time.monotonic() - started, start_error=f"{argv[0]}: {exc.strerror or exc}")
    timed_out = False
    out: bytes | None
    err: bytes | None
    try:
        out, err = proc.communicate(timeout=max(timeout, 0.0))
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        out, err = _collect(proc)
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    return ProcessResult(
        None if timed_out else proc.returncode, _text(out), _text(err), time.monotonic() - started, timed_out
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (the child leads it, and is not yet reaped, so the id is still ours)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _collect(proc: subprocess.Popen[bytes]) -> tuple[bytes | None, bytes | None]:
    """What a killed child wrote; a descendant that left the group and kept the pipes open is not waited for."""
    try:
        return proc.communicate(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
        return None, None


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")
