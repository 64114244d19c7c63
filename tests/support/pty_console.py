"""A real ``python -m bot console`` on a pseudo-terminal, driven like a person typing (keys, Ctrl-C, Ctrl-D).

The pty is the child's controlling terminal, so Ctrl-C typed into it is a real SIGINT from the line discipline
and Ctrl-D a real end of input; the console sees a terminal (line editing, colours) exactly as a user's shell
would give it.
"""

from __future__ import annotations

import fcntl
import os
import platform
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CTRL_C, CTRL_D = "\x03", "\x04"
WAITING_SYSCALLS = {"0", "7", "23", "270", "271"}
"""x86-64 read, poll, select, pselect6 and ppoll: how a line editor waits for the terminal."""


def _take_terminal() -> None:  # runs in the child before exec: a new session whose terminal is the pty
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _take_terminal_ignoring_interrupts() -> None:  # as a background job of a non-interactive shell starts
    _take_terminal()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class PtyConsole:
    """The console process and the master side of its terminal."""

    def __init__(self, args: list[str], env: dict[str, str], *, rows: int = 50, columns: int = 200,
                 interrupts_ignored: bool = False) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        full_env = {"PATH": os.environ["PATH"], "TERM": "xterm-256color", "INPUTRC": "/dev/null",
                    "PYTHONPATH": str(ROOT), **env}
        prepare = _take_terminal_ignoring_interrupts if interrupts_ignored else _take_terminal
        self.process = subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=ROOT, env=full_env,
                                        stdin=slave, stdout=slave, stderr=slave, preexec_fn=prepare, close_fds=True)
        os.close(slave)
        self.master = master
        self.output = ""
        self.position = 0

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # the child closed its side
            return False
        if not data:
            return False
        self.output += data.decode(errors="replace")
        return True

    def expect(self, text: str, timeout: float = 30) -> str:
        """Wait until ``text`` appears after what was already expected; returns the output up to its end."""
        deadline = time.monotonic() + timeout
        while text not in self.output[self.position:]:
            left = deadline - time.monotonic()
            got = left > 0 and self._read(min(left, 0.2))
            if left <= 0 or (not got and self.process.poll() is not None):
                raise AssertionError(f"{text!r} never appeared; the console printed:\n"
                                     f"{self.output[self.position:][-3000:]!r}")
        end = self.output.index(text, self.position) + len(text)
        seen, self.position = self.output[self.position:end], end
        return seen

    def settle(self, quiet: float = 0.5, timeout: float = 10) -> str:
        """Read until nothing arrives for ``quiet`` seconds; returns what arrived."""
        start, deadline = len(self.output), time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(quiet):
            pass
        return self.output[start:]

    def send(self, keys: str) -> None:
        """Type ``keys`` (``\\r`` is Enter)."""
        os.write(self.master, keys.encode())

    def interrupt(self, timeout: float = 10) -> None:
        """Press Ctrl-C once the console waits for a key, as a person would.

        CPython's line editor checks for a signal, then waits for the terminal; a SIGINT landing between the two
        is only seen at the next key. A person never types that fast, but a loaded machine can stretch the gap,
        so the key is sent once the main thread sleeps in the wait (Linux's ``/proc``; elsewhere after a pause).
        """
        deadline = time.monotonic() + timeout
        while not self._waiting_for_input() and time.monotonic() < deadline:
            self._read(0.02)
        self.send(CTRL_C)

    def _waiting_for_input(self) -> bool:
        try:
            if platform.machine() != "x86_64":
                raise OSError("syscall numbers known for x86-64 only")
            state = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            call = Path(f"/proc/{self.process.pid}/syscall").read_text().split()[0]
        except (OSError, IndexError):
            time.sleep(0.3)
            return True
        return state == "S" and call in WAITING_SYSCALLS

    def wait(self, timeout: float = 20) -> int:
        """The exit status, reading what is left so the child never blocks on a full terminal."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        return self.process.wait(max(0.1, deadline - time.monotonic()))

    def close(self) -> None:
        """Stop the process if it still runs, and close the terminal."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        os.close(self.master)
