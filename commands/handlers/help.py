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
         params=(Param("command", "text", "A command name, e.g. `admin grant`", required=False),))
def help_command(ctx: Context, command: str | None) -> Reply:
    """Help on one command (or the unknown-command answer), else the commands the caller may use."""
    if command:
        try:
            spec, _ = find_command(ctx.registry, tokenize(command))
        except UnknownCommand as unknown:
            return unknown_command_reply(ctx, unknown)
        return describe(ctx, spec)
    return Reply(text=f"*RAD commands you can use*\n{command_list(ctx)}\n"
                      f"Type `{ctx.slash} help <command>` for details.")


def unknown_command_reply(ctx: Context, unknown: UnknownCommand) -> Reply:
    """Help, led by the closest commands the caller may use."""
    allowed = {s.name for s in usable(ctx)}
    close = [n for n in (unknown.suggestions or suggest(unknown.words, allowed)) if n in allowed]
    lead = f":grey_question: There is no command `{unknown.words}`."
    if close:
        lead += " " + did_you_mean([f"`{ctx.slash} {n}`" for n in close])
    return Reply(text=f"{lead}\n\n*Commands you can use*\n{command_list(ctx)}")
