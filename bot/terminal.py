"""The console's screen: reading lines, printing from any thread without eating the prompt, mrkdwn for a terminal.

Output from other threads (a deployment's progress, a direct message) arrives while the user is typing at a
prompt. On a terminal the prompt line is erased, the message printed, and the prompt with what was typed so far
drawn again below it (GNU readline keeps the line; Python's ``readline`` module gives its buffer). When the
output is not a terminal (a pipe, a test), nothing is erased: the message starts on a new line and the prompt is
printed again after it, and no escape code is ever written.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from commands.ui.markup import emojify

BOLD, NO_BOLD = "\x1b[1m", "\x1b[22m"
ITALIC, NO_ITALIC = "\x1b[3m", "\x1b[23m"
STRIKE, NO_STRIKE = "\x1b[9m", "\x1b[29m"
CODE, NO_CODE = "\x1b[36m", "\x1b[39m"
ERASE_LINE = "\r\x1b[2K"

FENCE = re.compile(r"```\n?(.*?)\n?```", re.DOTALL)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"<((?:https?|mailto):[^|>\s]+)(?:\|([^>]+))?>")
STYLES = (
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), BOLD, NO_BOLD),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), ITALIC, NO_ITALIC),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])"), STRIKE, NO_STRIKE),
)


def wants_ansi(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """Whether ``stream`` is a terminal that may get escape codes (not with ``NO_COLOR`` or ``TERM=dumb``)."""
    env = os.environ if environ is None else environ
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in env and env.get("TERM", "") != "dumb"


def render(text: str, *, ansi: bool) -> str:
    """``text`` (the neutral markup: ``*bold*``, ``_italic_``, `` `code` ``) for a terminal.

    Emoji codes become emoji either way. With ``ansi`` the markup becomes bold, italic and coloured code, code
    blocks lose their fences, and ``<url|label>`` links read ``label (url)``; without it the text is kept as
    written, so piped output stays plain and stable.
    """
    text = emojify(text)
    if not ansi:
        return text
    blocks = FENCE.split(text)  # even indexes: prose; odd: the inside of a ``` block
    return "".join(_code_block(part) if index % 2 else _prose(part) for index, part in enumerate(blocks))


def _wrap(start: str, end: str) -> Callable[[re.Match[str]], str]:
    return lambda match: f"{start}{match.group(1)}{end}"


def _code_block(body: str) -> str:
    return "\n".join(f"  {CODE}{line}{NO_CODE}" for line in body.split("\n"))


def _prose(text: str) -> str:
    pieces = INLINE_CODE.split(text)  # odd indexes: inline code, left unstyled inside
    out = []
    for index, piece in enumerate(pieces):
        if index % 2:
            out.append(f"{CODE}{piece}{NO_CODE}")
            continue
        piece = LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) else m.group(1), piece)
        for pattern, start, end in STYLES:
            piece = pattern.sub(_wrap(start, end), piece)
        out.append(piece)
    return "".join(out)


class Screen:
    """The console's input and output, shared by the prompt loop and the threads that print meanwhile.

    ``read`` and ``read_secret`` default to the terminal (``input`` with line editing, ``getpass``); tests inject
    their own, which do not echo prompts. ``ansi`` turns on terminal rendering and prompt redrawing.
    """

    def __init__(self, out: TextIO, *, read: Callable[[str], str] | None = None,
                 read_secret: Callable[[str], str] | None = None, ansi: bool | None = None) -> None:
        self.out = out
        self.ansi = wants_ansi(out) if ansi is None else ansi
        self.echoes_prompt = read is None
        """Whether reading writes the prompt to ``out`` (``input`` does; injected readers do not)."""
        if read is None and self.ansi:
            with contextlib.suppress(ImportError):  # a Python built without readline has no line editing
                import readline  # noqa: F401  (line editing and history for input())
        self._read = read or input
        self._read_secret = read_secret or getpass.getpass
        self._lock = threading.RLock()
        self._prompt: str | None = None
        self._secret = False

    def show(self, text: str = "") -> None:
        """Print ``text`` (rendered) as the answer to what the user just did."""
        with self._lock:
            print(render(text, ansi=self.ansi), file=self.out, flush=True)

    def show_async(self, text: str, *, markup: bool = True) -> None:
        """Print ``text`` from another thread; a prompt being waited on is kept intact below it."""
        with self._lock:
            prompt = self._prompt
            rendered = render(text, ansi=self.ansi) if markup else text
            if prompt is None or not self.echoes_prompt:
                print(rendered, file=self.out, flush=True)
            elif self.ansi:
                typed = "" if self._secret else _typed_so_far()  # a hidden answer is never drawn
                self.out.write(f"{ERASE_LINE}{rendered}\n{prompt}{typed}")
                self.out.flush()
            else:
                self.out.write(f"\n{rendered}\n{prompt}")
                self.out.flush()

    def ask(self, prompt: str, *, secret: bool = False) -> str:
        """One line typed by the user; KeyboardInterrupt (Ctrl-C) and EOFError (Ctrl-D) are the caller's."""
        with self._lock:
            self._prompt, self._secret = prompt, secret
        try:
            return (self._read_secret if secret else self._read)(prompt)
        finally:
            with self._lock:
                self._prompt = None

    @property
    def waiting(self) -> bool:
        """Whether the user is being asked something right now."""
        with self._lock:
            return self._prompt is not None


def _typed_so_far() -> str:
    readline = sys.modules.get("readline")
    if readline is None:
        return ""
    try:
        return str(readline.get_line_buffer())
    except Exception:  # pragma: no cover - a readline without a buffer
        return ""


class ScreenLogHandler(logging.Handler):
    """Log records printed through the screen, so a warning from another thread keeps the prompt intact."""

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.screen = screen

    def emit(self, record: logging.LogRecord) -> None:
        """Print ``record`` formatted: above the prompt on a terminal, else to stderr."""
        try:
            if self.screen.ansi:
                self.screen.show_async(self.format(record), markup=False)
            else:  # not a terminal: the conversation on stdout stays clean
                print(self.format(record), file=sys.stderr, flush=True)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def log_to_screen(screen: Screen) -> None:
    """Send the root logger's output (the console's warnings) through ``screen``, keeping its format."""
    root = logging.getLogger()
    handler = ScreenLogHandler(screen)
    if root.handlers:
        handler.setFormatter(root.handlers[0].formatter)
        handler.setLevel(root.handlers[0].level)
    root.handlers[:] = [handler]
