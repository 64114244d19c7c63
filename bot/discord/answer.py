"""Answering an interaction: defer it, send or edit its response, follow up, report an unexpected error."""

from __future__ import annotations

import logging

import discord

from bot.discord.render import OutMessage, notice
from core.incidents import report

log = logging.getLogger(__name__)


async def defer(interaction: discord.Interaction, *, component: bool) -> None:
    """Acknowledge now and answer later.

    A click (or a form opened from one) gets a deferred update of its message (type 6, edited later); anything
    else a private "thinking…" response (type 5).
    """
    if component:
        await interaction.response.defer()
    else:
        await interaction.response.defer(ephemeral=True, thinking=True)


async def send(interaction: discord.Interaction, messages: list[OutMessage], *, ephemeral: bool,
               replace: bool = False) -> None:
    """Answer the interaction with the first message (or edit the original), then follow up."""
    first, rest = messages[0], messages[1:]
    response = interaction.response
    if not response.is_done():
        if replace:
            await response.edit_message(**first.edit_kwargs())
        else:
            await response.send_message(**first.send_kwargs(ephemeral=ephemeral))
    elif replace or (response.type == discord.InteractionResponseType.deferred_channel_message and ephemeral):
        await interaction.edit_original_response(**first.edit_kwargs())
    elif response.type == discord.InteractionResponseType.deferred_channel_message:
        await interaction.edit_original_response(content="✅ Done.", embeds=[], view=None)
        rest = messages
    else:
        rest = messages
    for message in rest:
        await interaction.followup.send(**message.send_kwargs(ephemeral=ephemeral))


async def settle(interaction: discord.Interaction) -> None:
    """Nothing to show (a re-delivery): remove a "thinking…" response that would otherwise stay."""
    if interaction.response.type == discord.InteractionResponseType.deferred_channel_message:
        await interaction.delete_original_response()


async def fail(interaction: discord.Interaction, error: BaseException) -> None:
    """An unexpected error: logged with an id the user sees, never a traceback."""
    incident = report(log, "discord interaction failed", error)
    try:
        await send(interaction, [notice(incident.message)], ephemeral=True)
    except discord.HTTPException:
        log.warning("could not report the error", extra={"error_id": incident.error_id})
