"""The neutral text markup's emoji: ``:shortcode:`` as handlers write it (Slack shows them natively)."""

from __future__ import annotations

import re

EMOJI = {
    "warning": "⚠️", "white_check_mark": "✅", "x": "❌", "boom": "💥", "link": "🔗", "grey_question": "❔",
    "question": "❓", "information_source": "ℹ️", "tada": "🎉", "hourglass": "⌛", "hourglass_flowing_sand": "⏳",
    "lock": "🔒", "key": "🔑", "rocket": "🚀", "moneybag": "💰", "chart_with_upwards_trend": "📈",
    "page_facing_up": "📄", "wastebasket": "🗑️", "pencil": "📝", "memo": "📝", "bell": "🔔", "robot_face": "🤖",
    "arrows_counterclockwise": "🔄", "heavy_check_mark": "✔️", "no_entry": "⛔", "star": "⭐", "package": "📦",
    "pushpin": "📌", "broom": "🧹",
}
SHORTCODE = re.compile(r":([a-z0-9_+-]+):")


def emojify(text: str) -> str:
    """``:shortcode:`` replaced by its emoji; unknown ones (and ``a:b:c`` text) are left as written."""
    return SHORTCODE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)
