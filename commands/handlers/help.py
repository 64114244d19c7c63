"""``/rad help [command]`` and the answer to an unknown command."""

from __future__ import annotations

from commands.framework.context import Context
from commands.framework.parsing import UnknownCommand, find_command, suggest, tokenize
from commands.framework.registry import CommandSpec, Param, command
from commands.ui.model import Reply
from core.accounts.roles import has_any
from core.suggestions import did_you_mean


def usable(ctx: Context) -> list[CommandSpec]:
    """The commands the caller may run, by name."""
    return sorted((s for s in ctx.registry.commands.values() if has_any(ctx.actor, s.roles)),
                  key=lambda s: s.name)


def command_list(ctx: Context) -> str:
    """One line per command the caller may use: its usage and summary."""
    return "\n".join(f"• `{ctx.slash} {s.usage}` – {s.summary}" for s in usable(ctx))


def describe(ctx: Context, spec: CommandSpec) -> Reply:
    """A command's usage, details, parameters and who may run it."""
    lines = [f"*{ctx.slash} {spec.name}* – {spec.summary}", f"Usage: `{ctx.slash} {spec.usage}`"]
    if spec.details:
        lines.append(spec.details)
    lines += [f"• `{p.name}`: {p.description}" for p in spec.params if p.description]
    if spec.roles:
        others = sorted(spec.roles - {"admin"})
        lines.append(f"For {', '.join(r + 's' for r in others)} and admins." if others else "For admins.")
    return Reply(text="\n".join(lines))


@command("help", "Show the commands you can use, or how to use one",
         params=(Param("command", "text", "A command name, e.g. `admin grant`", required=False),), read_only=True)
def help_command(ctx: Context, command: str | None) -> Reply:
    """Help on one command, on a group of subcommands (``help admin``), else the commands the caller may use.

    An unknown command gets the unknown-command answer; in the console the list also says how to leave.
    """
    if command:
        words = tokenize(command)
        group = group_reply(ctx, words[0].lower()) if len(words) == 1 else None
        if group is not None:
            return group
        try:
            spec, _ = find_command(ctx.registry, words)
        except UnknownCommand as unknown:
            return unknown_command_reply(ctx, unknown)
        return describe(ctx, spec)
    leave = "\nType `quit` (or press Ctrl-D) to leave the console." if _in_console(ctx) else ""
    return Reply(text=f"*RAD commands you can use*\n{command_list(ctx)}\n"
                      f"Type `{ctx.slash} help <command>` for details.{leave}")


PEOPLE = {"finance": "finance"}
"""Role names as people: partners, but finance (not "finances")."""


def group_reply(ctx: Context, group: str) -> Reply | None:
    """The subcommands of ``group`` (``admin grant``, ``admin users``...) the caller may use.

    None when ``group`` is a command of its own or not the first word of any command.
    """
    if group in ctx.registry.commands:
        return None
    specs = sorted((s for s in ctx.registry.command_groups().get(group, []) if " " in s.name), key=lambda s: s.name)
    if not specs:
        return None
    allowed = [s for s in specs if has_any(ctx.actor, s.roles)]
    if not allowed:
        roles = sorted(set().union(*(s.roles for s in specs)) - {"admin"})
        who = ", ".join(PEOPLE.get(r, r + "s") for r in roles) + " and admins" if roles else "admins"
        return Reply(text=f"The `{ctx.slash} {group}` commands are for {who}.\n"
                          f"Type `{ctx.slash} help` for the commands you can use.")
    lines = [f"*`{ctx.slash} {group}` commands you can use*",
             *(f"• `{ctx.slash} {s.usage}` – {s.summary}" for s in allowed),
             f"Type `{ctx.slash} help {group} <command>` for details, e.g. `{ctx.slash} help {allowed[0].name}`."]
    return Reply(text="\n".join(lines))


def _in_console(ctx: Context) -> bool:
    return ctx.where is not None and ctx.where.platform == "console"


def unknown_command_reply(ctx: Context, unknown: UnknownCommand) -> Reply:
    """Help, led by the closest commands the caller may use."""
    allowed = {s.name for s in usable(ctx)}
    close = [n for n in (unknown.suggestions or suggest(unknown.words, allowed)) if n in allowed]
    lead = f":grey_question: There is no command `{unknown.words}`."
    if close:
        lead += " " + did_you_mean([f"`{ctx.slash} {n}`" for n in close])
    return Reply(text=f"{lead}\n\n*Commands you can use*\n{command_list(ctx)}")
