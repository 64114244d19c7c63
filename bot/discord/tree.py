"""The ``/rad`` slash command tree, built from the shared registry.

One group named after ``RAD_COMMAND``; one-word commands are its subcommands, two-word commands
(``admin grant``) live in a subgroup, where a one-word command of the same first word is ``show``.
Options are typed from the parameter kinds: user → USER option, int → INTEGER, choice → STRING with
choices, word/text → STRING. Every option has a description.
A parameter with an options provider (``Param.options``) is a STRING option with autocomplete.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Literal

import discord
from discord import app_commands

from bot.discord.text import shorten
from commands.framework.registry import CommandSpec, Param, Registry
from commands.ui.model import Option

log = logging.getLogger(__name__)
DESCRIPTION_MAX, CHOICES_MAX, SUBCOMMANDS_MAX, CHOICE_TEXT_MAX = 100, 25, 25, 100
ROOT_DESCRIPTION = "RAD: modules, deployments, credits and reports"
BARE_NAME = "show"
"""Discord cannot run a group itself: a one-word command that also heads a group (``credits`` beside
``credits history``) is that group's ``show`` subcommand (``/rad credits show``)."""
CommandRunner = Callable[[discord.Interaction, str, dict[str, Any]], Awaitable[None]]
Completer = Callable[[discord.Interaction, str, str, str], Awaitable[list[app_commands.Choice[str]]]]
"""``complete(interaction, provider, value, current)``: the choices to offer for what is typed so far."""


def build_group(registry: Registry, name: str, run: CommandRunner,
                complete: Completer | None = None) -> app_commands.Group:
    """The root group with every registered command.

    ``run(interaction, command, args)`` handles a call and ``complete`` answers autocomplete (without it,
    options providers are plain STRING options).
    """
    root = app_commands.Group(name=name, description=ROOT_DESCRIPTION)
    for first, specs in sorted(registry.command_groups().items()):
        nested = [s for s in specs if " " in s.name]
        parent = root
        if nested:
            parent = app_commands.Group(name=first, description=f"{first.capitalize()} commands", parent=root)
        for spec in sorted(specs, key=lambda s: s.name):
            bare = BARE_NAME if nested and " " not in spec.name else None  # `credits` beside `credits history`
            parent.add_command(build_command(spec, run, complete, name=bare))
        if len(parent.commands) > SUBCOMMANDS_MAX:
            raise ValueError(f"'{parent.name}' has more than {SUBCOMMANDS_MAX} subcommands")
    return root


def build_command(spec: CommandSpec, run: CommandRunner, complete: Completer | None = None, *,
                  name: str | None = None) -> app_commands.Command[Any, ..., None]:
    """One slash (sub)command whose options come from ``spec.params``, named ``name`` or its last word."""
    names = {f"arg{i}": p for i, p in enumerate(spec.params)}

    async def callback(interaction: discord.Interaction, **options: Any) -> None:
        await run(interaction, spec.name, {names[k].name: v for k, v in options.items()})

    parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    annotation=discord.Interaction)]
    for key, param in names.items():
        default = inspect.Parameter.empty if param.required else None
        parameters.append(inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, annotation=annotation(param),
                                            default=default))
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    described = app_commands.describe(**{k: describe(p) for k, p in names.items()})(callback)
    renamed = app_commands.rename(**{k: p.name for k, p in names.items()})(described)
    if complete is not None:
        completers = {k: completer(complete, p.options, p.options_value)
                      for k, p in names.items() if autocompleted(p)}
        renamed = app_commands.autocomplete(**completers)(renamed) if completers else renamed
    return app_commands.Command(name=name or spec.name.split()[-1], description=shorten(spec.summary, DESCRIPTION_MAX),
                                callback=renamed)


def autocompleted(param: Param) -> bool:
    """Whether the option offers its provider's values as the user types (never with fixed choices)."""
    return bool(param.options) and param.kind in ("word", "text")


def completer(complete: Completer, provider: str, value: str) -> Callable[
        [discord.Interaction, str], Coroutine[Any, Any, list[app_commands.Choice[str]]]]:
    """The autocomplete callback of one option (discord.py wants exactly ``(interaction, current)``)."""

    async def suggest(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await complete(interaction, provider, value, current)

    return suggest


def choices(options: Sequence[Option]) -> list[app_commands.Choice[str]]:
    """Autocomplete choices within Discord's limits: 25, names and values of at most 100 characters.

    A value is an id and is never cut: an option whose value is too long is left out (and logged).
    """
    found: list[app_commands.Choice[str]] = []
    for option in options:
        if not option.value:
            continue
        if len(option.value) > CHOICE_TEXT_MAX:
            log.warning("autocomplete option value too long for Discord", extra={"length": len(option.value)})
            continue
        found.append(app_commands.Choice(name=shorten(option.label or option.value, CHOICE_TEXT_MAX),
                                         value=option.value))
        if len(found) == CHOICES_MAX:
            break
    return found


def annotation(param: Param) -> Any:
    """The Python annotation discord.py turns into the option type."""
    if param.kind == "user":
        return discord.User
    if param.kind == "int":
        return int
    if param.kind == "choice" and 0 < len(param.choices) <= CHOICES_MAX:
        return Literal[tuple(param.choices)]
    return str


def describe(param: Param) -> str:
    """An option's description for Discord: backticks removed, long choice lists spelled out, shortened."""
    text = param.description.replace("`", "") or param.name.replace("_", " ").capitalize()
    if param.kind == "choice" and len(param.choices) > CHOICES_MAX:
        text += " (" + ", ".join(param.choices) + ")"
    return shorten(text, DESCRIPTION_MAX)
