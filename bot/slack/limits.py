"""Block Kit and Web API limits the renderers honour (see shared/reference/chat_platforms.md, section 3)."""

from __future__ import annotations

MESSAGE_BLOCKS = 50
MODAL_BLOCKS = 100
SECTION_TEXT = 3000
SECTION_FIELDS = 10
FIELD_TEXT = 2000
HEADER_TEXT = 150
ACTIONS_ELEMENTS = 25
CONTEXT_ELEMENTS = 10
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ACTION_ID = 255
BLOCK_ID = 255
SELECT_OPTIONS = 100
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTION_DESCRIPTION = 75
PLACEHOLDER = 150
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
CONFIRM_BUTTON = 30
IMAGE_URL = 3000
ALT_TEXT = 2000
INPUT_LABEL = 2000
INPUT_HINT = 2000
TEXT_INPUT_LENGTH = 3000
MODAL_TITLE = 24
MODAL_BUTTON = 24
CALLBACK_ID = 255
PRIVATE_METADATA = 3000
MESSAGE_TEXT = 40_000
"""Slack truncates a message's text above this; a longer reply is sent as a .txt file."""
FALLBACK_TEXT = 1000
"""Our cap for the top-level ``text`` (notifications) of a message that has blocks."""
RESPONSE_URL_USES = 5
"""A ``response_url`` accepts five posts within 30 minutes."""
