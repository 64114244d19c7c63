"""The console's rendering of the neutral markup for a terminal, and plain text when not one."""

from __future__ import annotations

import io

from bot.terminal import BOLD, CODE, ITALIC, NO_BOLD, NO_CODE, NO_ITALIC, render, wants_ansi


def test_bold_italic_and_code_become_terminal_styles() -> None:
    shown = render("*Saved.* You are _Ada_; run `/rad whoami` :tada:", ansi=True)
    assert shown == f"{BOLD}Saved.{NO_BOLD} You are {ITALIC}Ada{NO_ITALIC}; run {CODE}/rad whoami{NO_CODE} 🎉"


def test_markup_inside_code_and_inside_words_is_left_alone() -> None:
    shown = render("`a*b*c` and snake_case_name and 2*3*4", ansi=True)
    assert shown == f"{CODE}a*b*c{NO_CODE} and snake_case_name and 2*3*4"


def test_code_blocks_lose_their_fences_and_links_read_label_then_address() -> None:
    shown = render("Log:\n```\nError: *quota*\n```\nSee <https://docs.example.com|the docs>", ansi=True)
    assert shown == f"Log:\n  {CODE}Error: *quota*{NO_CODE}\nSee the docs (https://docs.example.com)"


def test_without_a_terminal_the_text_is_kept_as_written() -> None:
    text = "*RAD commands you can use* `quit` _soon_ :x:"
    assert render(text, ansi=False) == "*RAD commands you can use* `quit` _soon_ ❌"
    assert not wants_ansi(io.StringIO(), {})


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_color_and_dumb_terminals_get_no_escape_codes() -> None:
    assert wants_ansi(FakeTty(), {"TERM": "xterm"})
    assert not wants_ansi(FakeTty(), {"TERM": "xterm", "NO_COLOR": "1"})
    assert not wants_ansi(FakeTty(), {"TERM": "dumb"})
