"""Turn the text after the slash command into a command and its arguments."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from commands.framework.registry import ArgValue, CommandSpec, Param, Registry
from core.accounts.identity import Caller, IdentityKey
from core.errors import InvalidInput
from core.suggestions import closest, did_you_mean

MENTION = re.compile(r"^<@!?([A-Za-z0-9_.-]+)(?:\|([^>]*))?>$")
MAX_COMMAND_TEXT = 4000
"""The longest command text read, in characters: Slack's own limit for a slash command's text."""
WHITESPACE = frozenset(" \t\r\n")
QUOTE_NAMES = {"'": "single", '"': "double"}


class UnknownCommand(InvalidInput):
    """The words typed match no command; carries the closest command names."""

    def __init__(self, words: str, suggestions: list[str]) -> None:
        super().__init__(f"There is no command `{words}`.")
        self.words = words
        self.suggestions = suggestions


def tokenize(text: str) -> list[str]:
    """Split command text into words as a POSIX shell does (``shlex.split``), in one linear pass.

    Text longer than ``MAX_COMMAND_TEXT`` characters is refused before it is read; a quote left open or a
    trailing backslash is a user error.
    """
    if len(text) > MAX_COMMAND_TEXT:
        raise InvalidInput(f"That command is {len(text):,} characters long; the limit is {MAX_COMMAND_TEXT:,}.",
                           hint="Shorten it: long text belongs in a form or a file.")
    words: list[str] = []
    word: list[str] = []
    in_word = False
    quote = ""
    chars = iter(text)
    for char in chars:
        if quote == "'":
            if char == "'":
                quote = ""
            else:
                word.append(char)
        elif quote == '"':
            if char == '"':
                quote = ""
            elif char == "\\":
                escaped = next(chars, None)
                if escaped is None:
                    break
                word.append(escaped if escaped in '"\\' else "\\" + escaped)
            else:
                word.append(char)
        elif char in WHITESPACE:
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        else:
            in_word = True
            if char in "'\"":
                quote = char
            elif char == "\\":
                escaped = next(chars, None)
                if escaped is None:
                    raise InvalidInput("I could not read that: it ends with a lone backslash.",
                                       hint="Remove it, or put it in quotes.")
                word.append(escaped)
            else:
                word.append(char)
    if quote:
        raise InvalidInput(f"I could not read that: a {QUOTE_NAMES[quote]} quote is not closed.",
                           hint="Check your quotes.")
    if in_word:
        words.append("".join(word))
    return words


def find_command(registry: Registry, tokens: list[str]) -> tuple[CommandSpec, list[str]]:
    """The longest registered command name that the tokens start with, and the remaining tokens."""
    lowered = [t.lower() for t in tokens]
    for length in (2, 1):
        name = " ".join(lowered[:length])
        if len(lowered) >= length and name in registry.commands:
            return registry.commands[name], tokens[length:]
    words = " ".join(lowered[:2])
    raise UnknownCommand(words, suggest(words, registry.commands))


def suggest(words: str, names: Iterable[str]) -> list[str]:
    """Close command names, best first."""
    names = list(names)
    first = words.split()[0] if words.split() else words
    matches = closest(words, names, cutoff=0.5)
    matches += [n for n in closest(first, names) if n not in matches]
    matches += [n for n in names if n.startswith(first + " ") and n not in matches]
    return matches[:3]


def parse_mention(token: str, caller: Caller) -> IdentityKey:
    """A mention in the caller's platform (``<@U123>``, ``@name`` in the console) or a full identity.

    The name a Slack mention carries (``<@U123|name>``) comes along as the key's ``name``.
    """
    found = MENTION.match(token)
    if found:
        workspace = caller.key.workspace if caller.key.platform == "slack" else ""
        return IdentityKey(caller.key.platform, workspace, found.group(1), (found.group(2) or "").strip())
    if token.startswith("@") and len(token) > 1 and caller.key.platform == "console":
        return IdentityKey("console", "", token[1:], token[1:])
    if token.split(":")[0] in ("slack", "discord", "console"):
        return IdentityKey.parse(token)
    raise InvalidInput(f"`{token}` is not a mention of a user.", hint="Mention them, like @someone.")


def parse_args(spec: CommandSpec, tokens: list[str], caller: Caller, slash: str) -> dict[str, ArgValue]:
    """Arguments by parameter name, checked against the command's parameters."""
    args: dict[str, ArgValue] = {}
    rest = list(tokens)
    for index, param in enumerate(spec.params):
        if skippable(param, rest, spec.params[index + 1:]):
            args[param.name] = None  # `modules vpc`: not a tab, so it is the search text that follows
            continue
        if not rest:
            args[param.name] = absent(spec, param, slash)
            continue
        if param.kind == "text":
            args[param.name] = " ".join(rest)
            rest = []
            continue
        args[param.name] = convert(param, rest.pop(0), caller)
    if rest:
        raise InvalidInput(f"I did not expect `{' '.join(rest)}`.", hint=f"Usage: `{slash} {spec.usage}`")
    return args


def check_args(spec: CommandSpec, given: Mapping[str, ArgValue], caller: Caller, slash: str,
               ) -> dict[str, ArgValue]:
    """Structured arguments (Discord options) checked like typed ones."""
    args: dict[str, ArgValue] = {}
    for param in spec.params:
        raw = given.get(param.name)
        args[param.name] = absent(spec, param, slash) if raw is None or raw == "" else convert(param, raw, caller)
    return args


def absent(spec: CommandSpec, param: Param, slash: str) -> ArgValue:
    """An argument not given: None when optional, a usage error when required."""
    if param.required:
        raise InvalidInput(f"`{param.name}` is missing.", hint=f"Usage: `{slash} {spec.usage}`")
    return None


def skippable(param: Param, rest: list[str], later: tuple[Param, ...]) -> bool:
    """An optional argument the next word cannot be, when a later parameter can take that word.

    An optional choice whose word is not one of its choices, when free text may follow (``modules vpc``);
    an optional user whose word is not a mention, when other parameters follow (``credits history
    2026-01-01``: no user named, the date is the next parameter's).
    """
    if param.required or not rest:
        return False
    if param.kind == "choice":
        return rest[0].lower() not in param.choices and any(p.kind == "text" for p in later)
    if param.kind == "user":
        return bool(later) and not looks_like_mention(rest[0])
    return False


def looks_like_mention(token: str) -> bool:
    """Whether a word is written as a mention (``<@U1>``, ``@name``, ``slack:T1:U1``), valid or not."""
    return bool(MENTION.match(token)) or token.startswith(("@", "<@")) or \
        token.split(":")[0] in ("slack", "discord", "console")


def convert(param: Param, raw: str | int | IdentityKey, caller: Caller) -> ArgValue:
    """Check and convert one argument, typed or already structured (Discord options)."""
    if isinstance(raw, IdentityKey):
        return raw
    text = str(raw).strip()
    if param.kind == "int":
        if not re.fullmatch(r"-?\d+", text):
            raise InvalidInput(f"`{param.name}` must be a whole number, not `{text}`.")
        return int(text)
    if param.kind == "user":
        return parse_mention(text, caller)
    if param.kind == "choice":
        lowered = text.lower()
        if lowered not in param.choices:
            hint = did_you_mean([f"`{c}`" for c in closest(lowered, param.choices, 1)])
            raise InvalidInput(f"`{text}` is not a valid {param.name}.",
                               hint=f"{hint} Choose one of {', '.join(param.choices)}.".strip())
        return lowered
    if not text and param.required:
        raise InvalidInput(f"`{param.name}` is missing.")
    return text
