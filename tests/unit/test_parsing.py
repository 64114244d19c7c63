"""The command text tokeniser: shell-like words in one linear pass, and a cap on the text's length."""

from __future__ import annotations

import random
import shlex

import pytest

from commands.framework.parsing import MAX_COMMAND_TEXT, tokenize
from core.errors import InvalidInput

PIECES = ("a", "b", "x y", " ", "\t", "\n", "'", '"', "\\")


def shell_words(text: str) -> list[str] | None:
    try:
        return shlex.split(text)
    except ValueError:
        return None


def our_words(text: str) -> list[str] | None:
    try:
        return tokenize(text)
    except InvalidInput:
        return None


def test_words_agree_with_shlex_on_random_texts() -> None:
    rng = random.Random(20240501)
    texts = ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 14))) for _ in range(20_000)]
    disagreements = [text for text in texts if our_words(text) != shell_words(text)]
    assert disagreements == []
    assert sum(our_words(text) is None for text in texts) > 1000  # the refusals were exercised too


@pytest.mark.parametrize(("text", "words"), [
    ('admin grant <@U1> partner', ["admin", "grant", "<@U1>", "partner"]),
    ('modules "web server"  pinned', ["modules", "web server", "pinned"]),
    ("say 'it''s' \"\"", ["say", "its", ""]),
    (r'a\ b "c\"d" "e\f"', ["a b", 'c"d', r"e\f"]),
    ("", []),
])
def test_words(text: str, words: list[str]) -> None:
    assert tokenize(text) == words


@pytest.mark.parametrize(("text", "message"), [
    ('help "unbalanced', "a double quote is not closed"),
    ("help 'unbalanced", "a single quote is not closed"),
    ("help \\", "ends with a lone backslash"),
])
def test_unreadable_text_says_why(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        tokenize(text)


WORST_CASES = {
    "unclosed quote": '"' + "\\\"" * ((MAX_COMMAND_TEXT - 1) // 2),
    "alternating quotes": "'\"" * (MAX_COMMAND_TEXT // 2),
    "escapes": "\\'" * (MAX_COMMAND_TEXT // 2),
    "tiny quoted words": '"" ' * (MAX_COMMAND_TEXT // 3),
    "one long word": "a" * MAX_COMMAND_TEXT,
}


@pytest.mark.parametrize("name", sorted(WORST_CASES))
def test_worst_cases_of_the_capped_size_are_read(name: str) -> None:
    text = WORST_CASES[name]
    assert len(text) <= MAX_COMMAND_TEXT
    assert our_words(text) == shell_words(text)


def test_worst_case_word_counts() -> None:
    assert tokenize(WORST_CASES["tiny quoted words"]) == [""] * (MAX_COMMAND_TEXT // 3)
    assert tokenize(WORST_CASES["escapes"]) == ["'" * (MAX_COMMAND_TEXT // 2)]
    assert tokenize(WORST_CASES["one long word"]) == ["a" * MAX_COMMAND_TEXT]


def test_text_at_the_cap_is_read_and_over_it_is_refused_naming_the_limit() -> None:
    assert tokenize("x" * MAX_COMMAND_TEXT) == ["x" * MAX_COMMAND_TEXT]
    with pytest.raises(InvalidInput, match="the limit is 4,000") as refused:
        tokenize('"' * 100_000)
    assert "100,000 characters" in refused.value.message
    with pytest.raises(InvalidInput, match="4,001 characters"):
        tokenize("x" * (MAX_COMMAND_TEXT + 1))
