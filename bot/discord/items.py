"""Persistent components: ``DynamicItem``s matching our custom ids, so clicks work after a restart.

Nothing is kept per message: a click is parsed from its custom id and handed to ``Front``.
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.discord import ids
from bot.discord.front import front_of


class ActionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=ids.BUTTON_TEMPLATE):
    """Any of our buttons: ``rad|…`` runs an action; confirm, cancel and form steps have their own kinds."""

    def __init__(self, item: discord.ui.Button[Any], kind: str, a: str, b: str) -> None:
        super().__init__(item)
        self.kind, self.a, self.b = kind, a, b

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> ActionButton:
        """The button behind a custom id that matched ``BUTTON_TEMPLATE``."""
        assert isinstance(item, discord.ui.Button)
        return cls(item, match["kind"], match["a"], match["b"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the front; an unexpected error is reported with an error id."""
        front = front_of(interaction.client)
        try:
            await front.button(interaction, self.kind, self.a, self.b, self.item.label or "")
        except Exception as error:
            await front.fail(interaction, error)


class ActionSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=ids.SELECT_TEMPLATE):
    """Our selects: ``rads|<action>|<value>``; the chosen option values go with the action."""

    def __init__(self, item: discord.ui.Select[Any], action_id: str, value: str) -> None:
        super().__init__(item)
        self.action_id, self.value = action_id, value

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> ActionSelect:
        """The select behind a custom id that matched ``SELECT_TEMPLATE``."""
        assert isinstance(item, discord.ui.Select)
        return cls(item, match["a"], match["b"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the chosen values to the front; an unexpected error is reported with an error id."""
        front = front_of(interaction.client)
        try:
            await front.select(interaction, self.action_id, self.value, list(self.item.values))
        except Exception as error:
            await front.fail(interaction, error)


class SearchButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=ids.SEARCH_TEMPLATE):
    """A search box's 🔍 button: ``radq|<action>|<value>|<n>|<text>`` opens a modal to type the search in."""

    def __init__(self, item: discord.ui.Button[Any], action_id: str, value: str, text: str) -> None:
        super().__init__(item)
        self.action_id, self.value, self.text = action_id, value, text

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> SearchButton:
        """The search button behind a custom id that matched ``SEARCH_TEMPLATE``."""
        assert isinstance(item, discord.ui.Button)
        return cls(item, match["a"], match["b"], match["text"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the front; an unexpected error is reported with an error id."""
        front = front_of(interaction.client)
        try:
            await front.search(interaction, self.action_id, self.value, self.text, self.item.label or "")
        except Exception as error:
            await front.fail(interaction, error)
