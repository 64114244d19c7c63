"""The Home view: a user's credits, running deployments and pinned modules, with the buttons to act on them.

One neutral Reply for every front door: Slack publishes it as the App Home tab (``views.publish``), Discord and
the console show it for ``/rad home``. The lists are capped (a Slack Home holds 100 blocks) and say how many
more there are and where to see them. The buttons are the ones messages carry (same action ids), so a click
works the same from the Home tab as from a message. What the user may see is decided by core's queries.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from commands.ui.model import Button, Card, Field, Reply
from commands.views.deployment import retry_buttons, status_line
from core.catalog import browse
from core.catalog.browse import ModuleRow
from core.credits import service as credits
from core.credits.amounts import credit_count, format_credits
from core.deployments import service as deployments
from core.deployments.status import DeploymentStatus
from core.settings.platform import credits_enabled
from storage.models import Deployment, User

LIST_SIZE = 6
"""Deployments and pinned modules shown at most, each (the rest are counted, with the command to see them)."""
GONE = frozenset({DeploymentStatus.DELETED, DeploymentStatus.CANCELLED})
"""Deployments the Home no longer lists: destroyed or cancelled (``/rad deployments`` still shows them)."""
DESCRIPTION = 150
"""Characters of a pinned module's description shown on its card."""


def home_view(session: Session, user: User, slash: str = "/rad") -> Reply:
    """``user``'s Home: credits, the deployments still alive (newest first), then the pinned modules."""
    running = deployments.visible(session, user, limit=LIST_SIZE, leaving_out=GONE)
    live = (deployments.count_visible(session, user, leaving_out=GONE) if len(running) == LIST_SIZE
            else len(running))
    pins = browse.browse(session, user, "pinned", limit=LIST_SIZE)
    pinned = browse.count(session, user, "pinned") if len(pins) == LIST_SIZE else len(pins)
    cards = [credits_card(session, user),
             Card(f"Deployments ({live})", text=more_line(live, slash, "deployments",
                                                          f"None running. Deploy a pinned module below, "
                                                          f"or run `{slash} deploy`.")),
             *(deployment_card(d) for d in running),
             Card(f"📌 Pinned modules ({pinned})", text=more_line(pinned, slash, "modules pinned",
                                                                     f"Nothing pinned. Pin a module from "
                                                                     f"`{slash} modules`.")),
             *(pin_card(row) for row in pins)]
    return Reply(text=f"*Your RAD home* – run `{slash} help` for every command.", cards=tuple(cards))


def more_line(total: int, slash: str, command: str, empty: str) -> str:
    """Under a list of ``total`` items' heading: what to do when it is empty, how many were left out when long."""
    if not total:
        return empty
    if total > LIST_SIZE:
        return f"The newest {LIST_SIZE} are below, and {total - LIST_SIZE} more: see `{slash} {command}`."
    return ""


def credits_card(session: Session, user: User) -> Card:
    """The balance: available (and the purchased part of it), awarded, purchased and held."""
    shown = credits.balance(session, user)
    text = "" if credits_enabled(session) else "Credits are turned off on this platform: deployments are free."
    return Card("Credits", text=text, fields=(
        Field("Available", f"{credit_count(shown.available_total)} "
                           f"({format_credits(shown.available_purchased)} purchased)"),
        Field("Awarded", format_credits(shown.awarded)),
        Field("Purchased", format_credits(shown.purchased)),
        Field("Held", format_credits(shown.held)),
    ))


def deployment_card(d: Deployment) -> Card:
    """One deployment: module, id, status and age; Details, and Cancel or Retry when they apply."""
    buttons = [Button("Details", "deployment:show", d.short_id), *retry_buttons(d)]
    if d.status == DeploymentStatus.QUEUED:
        buttons.append(Button("Cancel", "deployment:cancel", d.short_id, style="danger"))
    return Card(f"{d.module_name} · {d.short_id}", text=f"{status_line(d)} – since {d.created_at:%Y-%m-%d %H:%M} UTC",
                actions=tuple(buttons))


def pin_card(row: ModuleRow) -> Card:
    """One pinned module: its description and cost; Deploy, Details and Unpin."""
    m = row.module
    about = m.description if len(m.description) <= DESCRIPTION else m.description[:DESCRIPTION - 1] + "…"
    return Card(m.name, text=f"{about}\nCosts {credit_count(m.credit_cost)}.".strip(), actions=(
        Button("Deploy", "deploy:pick", m.name, style="primary"),
        Button("Details", "modules:show", str(m.id)),
        Button("Unpin", "modules:pin", f"{m.id}:pinned:1:"),
    ))
