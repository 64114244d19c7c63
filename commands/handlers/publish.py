"""``/rad publish`` and ``/rad admin publish``: scan the repository, tick modules, publish them as one sync.

The selection lives in a publish draft (ids only travel on buttons), so paging, searching and ticking work
across restarts and platforms, and Publish applies the draft exactly once (a double click is one sync).
"""

from __future__ import annotations

import hashlib

from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Param, action, command
from commands.handlers.connect import PARTNER_SCOPE, PLATFORM, owner_for
from commands.ui.model import Button, Card, Control, Field, Option, Reply, SearchBox, Select
from commands.ui.paging import Page, page_number, page_of
from core.accounts.roles import ADMIN, PARTNER
from core.catalog import drafts
from core.catalog import publish as catalog
from core.catalog import scan as scanner
from core.catalog.publish import CandidateView
from core.errors import Conflict, InvalidInput, NotFound
from core.modules.spec import load_spec
from core.repos import connections
from core.wording import count
from storage.models import PublishDraft, PublishDraftStatus, RepoConnection, User

PAGE_SIZE = 8
QUERY_MAX = drafts.QUERY_MAX
STATE_LABELS = {"new": "🆕 new", "published": "✅ published", "changed": "✏️ changed since published",
                "invalid": "⚠️ invalid", "missing": "🗑 gone from the repository", "taken": "⛔ name taken"}


@command("publish", "Publish, update or remove your modules (scans your repository)",
         params=(Param("search", "text", "Only modules whose name contains this", required=False),),
         roles=(PARTNER,), slow=True,
         details="Tick the modules to publish: new ones are published, ticked published ones are updated to the "
                 "repository's head, unticked published ones are removed.")
def publish(ctx: Context, search: str | None) -> Reply:
    """Scan the caller's repository and show the modules to tick."""
    return start(ctx, PARTNER_SCOPE, search or "")


@command("admin publish", "Publish platform modules from the platform repository",
         params=(Param("search", "text", "Only modules whose name contains this", required=False),),
         roles=(ADMIN,), slow=True)
def admin_publish(ctx: Context, search: str | None) -> Reply:
    """Scan the platform repository and show the modules to tick."""
    return start(ctx, PLATFORM, search or "")


def start(ctx: Context, scope: str, query: str) -> Reply:
    """Scan (outside any transaction), then open a draft pre-filled with the published modules."""
    owner = owner_for(ctx, scope)
    with ctx.db.unit_of_work() as session:  # a short look-up: the scan below must not hold a transaction
        conn = connections.find_repo(session, owner)
        if conn is None or not conn.full_name:
            command_name = "admin connect" if owner is None else "connect"
            raise NotFound("No repository is connected.", hint=f"Run `{ctx.slash} {command_name}` first.")
        connection_id = conn.id
    result = scanner.scan(ctx.db, ctx.services, connection_id, ctx.now)
    catalog.mark_missing(ctx.session, owner, result)
    views = catalog.describe_candidates(ctx.session, owner, result)
    draft = drafts.new_draft(ctx.session, ctx.actor, connection_id, result.commit, query,
                             [v.name for v in views if v.state in ("published", "changed")])
    cost = "no change since the last scan" if result.unchanged else f"{count(result.parsed_files, 'file')} parsed"
    return page(ctx, draft, views, 1, note=f"{count(result.api_calls, 'API call')}, {cost}")


def load_draft(ctx: Context, token: str, *, lock: bool = False) -> PublishDraft:
    """The caller's publish draft (see :func:`core.catalog.drafts.load_draft`)."""
    return drafts.load_draft(ctx.session, ctx.actor, token, lock=lock)


def draft_owner(ctx: Context, draft: PublishDraft) -> User | None:
    """Whose repository the draft lists: the caller, or None for the platform's (admins only)."""
    conn = ctx.session.get_one(RepoConnection, draft.connection_id)
    return owner_for(ctx, PLATFORM if conn.owner_id is None else PARTNER_SCOPE)


def draft_scan(ctx: Context, draft: PublishDraft) -> scanner.ScanResult:
    """The scan the draft was made from; refused when the repository was scanned at another commit since."""
    result = scanner.last_result(ctx.session, draft.connection_id)
    if result is None or result.commit != draft.commit:
        raise Conflict("The repository changed since this list was made.", hint=f"Run `{ctx.slash} publish` again.")
    return result


def draft_views(ctx: Context, draft: PublishDraft) -> list[CandidateView]:
    """The draft's module folders and their states, from the scan the draft was made from."""
    return catalog.describe_candidates(ctx.session, draft_owner(ctx, draft), draft_scan(ctx, draft))


def page_slice(draft: PublishDraft, views: list[CandidateView], number: int,
               ) -> tuple[list[CandidateView], int, int, int]:
    """The views on page ``number`` (clamped) of those matching the draft's search, the page, pages, matches."""
    shown = [v for v in views if draft.query.lower() in v.name.lower()]
    at = page_of(len(shown), number, PAGE_SIZE)
    return shown[at.offset:at.offset + PAGE_SIZE], at.number, at.pages, len(shown)


def page(ctx: Context, draft: PublishDraft, views: list[CandidateView], number: int, note: str = "") -> Reply:
    """One page of cards, the tick box for its modules, search, paging and the Publish button."""
    here, number, pages, matching = page_slice(draft, views, number)
    chosen = set(draft.selected)
    cards = tuple(card(v, v.name in chosen) for v in here)
    controls: list[Control] = []
    ticks = [v for v in here if v.selectable]
    if ticks:
        controls.append(Select("publish:select", tuple(Option(v.name, v.name) for v in ticks),
                               placeholder="Modules to publish", multi=True,
                               selected=tuple(v.name for v in ticks if v.name in chosen),
                               value=f"{draft.token}:{number}"))
    controls.append(SearchBox("publish:search", "🔍 Search", "Part of a module name", draft.token, draft.query))
    controls += Page(number, pages, matching, PAGE_SIZE).buttons("publish:page", lambda n: f"{draft.token}:{n}")
    published = {v.name for v in views if v.state in ("published", "changed")}
    label = "Update" if chosen & published else "Publish"
    controls.append(Button(f"{label} ({len(chosen)} selected)", "publish:apply", draft.token, style="primary"))
    lines = [f"*{count(len(views), 'module folder')}* at `{draft.commit[:7]}`"
             + (f", {matching} matching `{draft.query}`" if draft.query else "") + f" – page {number} of {pages}.",
             "Tick the modules to publish; published modules left unticked are removed when you press "
             f"{label}."]
    if note:
        lines.append(f"_Scan: {note}._")
    return Reply(text="\n".join(lines), cards=cards, actions=tuple(controls))


def card(view: CandidateView, ticked: bool) -> Card:
    """A module folder's card: its state, and its cost and inputs when valid, else why it is not."""
    spec = load_spec(view.candidate.spec) if view.candidate is not None and view.candidate.valid else None
    fields = [Field("State", STATE_LABELS[view.state] + (" – selected" if ticked else ""))]
    if spec is not None:
        fields += [Field("Credit cost", str(spec.credit_cost)), Field("Inputs", str(len(spec.inputs)))]
    text = view.reason if view.state in ("invalid", "taken", "missing") or spec is None else spec.description
    return Card(view.name, text=text, fields=tuple(fields))


@action("publish:select", roles=(PARTNER,))
def tick(ctx: Context, event: ActionEvent) -> Reply:
    """The tick box: this page's ticks in the draft become the ticked ones, then the page is redrawn."""
    token, _, number = event.value.partition(":")
    draft = load_draft(ctx, token)
    views = draft_views(ctx, draft)
    here, at, _, _ = page_slice(draft, views, page_number(number))
    on_page = {v.name for v in here if v.selectable}
    picked = {name for name in event.selected if name in on_page}
    draft.selected = sorted((set(draft.selected) - on_page) | picked)
    return page(ctx, draft, views, at).replacing()


@action("publish:page", roles=(PARTNER,))
def turn(ctx: Context, event: ActionEvent) -> Reply:
    """The paging buttons: that page of the draft, in place."""
    token, _, number = event.value.partition(":")
    if not number.isdigit():
        raise InvalidInput("That page does not exist.")
    draft = load_draft(ctx, token)
    return page(ctx, draft, draft_views(ctx, draft), page_number(number)).replacing()


@action("publish:search", roles=(PARTNER,))
def search(ctx: Context, event: ActionEvent) -> Reply:
    """The search box: keep the query in the draft and show the first page of the matching modules."""
    draft = load_draft(ctx, event.value)
    draft.query = (event.selected[0] if event.selected else "").strip()[:QUERY_MAX]
    return page(ctx, draft, draft_views(ctx, draft), 1).replacing()


@action("publish:apply", roles=(PARTNER,))
def apply(ctx: Context, event: ActionEvent) -> Reply:
    """Apply the draft once; a second click (or a retry) shows the same result.

    When the sync would remove modules that still have live deployments, it asks first (how many each), and
    applies only on **Remove and publish**.
    """
    return applied(ctx, event.value, confirmed="")


@action("publish:remove", roles=(PARTNER,))
def apply_removing(ctx: Context, event: ActionEvent) -> Reply:
    """**Remove and publish**: apply the draft, removing the modules the question named.

    If the removals or their deployments changed since the question, it is asked again.
    """
    token, _, seen = event.value.partition(":")
    return applied(ctx, token, confirmed=seen)


def applied(ctx: Context, token: str, *, confirmed: str) -> Reply:
    """Apply the draft ``token`` once, unless removals with live deployments are not ``confirmed`` yet."""
    draft = load_draft(ctx, token, lock=True)
    if draft.status != PublishDraftStatus.APPLIED:
        owner, result = draft_owner(ctx, draft), draft_scan(ctx, draft)
        risky = {name: n for name, n in catalog.removals(ctx.session, owner, result, draft.selected).items() if n}
        if risky and confirmed != removal_key(risky):
            return ask_removal(draft, risky, changed=bool(confirmed)).replacing()
        conn = ctx.session.get_one(RepoConnection, draft.connection_id)
        outcome = catalog.sync(ctx.session, ctx.actor, owner, result, draft.selected, conn.full_name, ctx.now)
        draft.status, draft.result = PublishDraftStatus.APPLIED, outcome.to_json()
    return Reply(text=summary(draft.result), replace_original=True)


def removal_key(risky: dict[str, int]) -> str:
    """A short fingerprint of the removals asked about, so a confirmation applies only what it was shown."""
    text = ";".join(f"{name}={n}" for name, n in sorted(risky.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ask_removal(draft: PublishDraft, risky: dict[str, int], *, changed: bool = False) -> Reply:
    """The question before removing modules that have live deployments: which, how many, what it means."""
    lines = [":warning: The deployments changed since you were asked; here is what publishing removes now."] \
        if changed else []
    named = ", ".join(f"`{name}` ({count(n, 'live deployment')})" for name, n in risky.items())
    total = sum(risky.values())
    lines += [f"Publishing removes {named} from the catalog.",
              ("That deployment keeps" if total == 1 else f"The {count(total, 'deployment')} keep")
              + " running and can still be destroyed, but can no longer be updated or deployed again. "
              "Remove and publish?"]
    return Reply(text="\n".join(lines), actions=(
        Button("Remove and publish", "publish:remove", f"{draft.token}:{removal_key(risky)}", style="danger"),
        Button("Back to the list", "publish:page", f"{draft.token}:1"),
    ))


def summary(result: dict[str, object]) -> str:
    """What a sync did: published, updated, already up to date, removed, and why any were refused."""
    lines = []
    for key, title in (("published", "Published"), ("updated", "Updated"), ("unchanged", "Already up to date"),
                       ("removed", "Removed")):
        names = result.get(key) or []
        if isinstance(names, list) and names:
            lines.append(f"*{title}:* " + ", ".join(f"`{n}`" for n in names))
    refused = result.get("refused") or {}
    if isinstance(refused, dict):
        lines += [f":warning: `{name}` was not published: {why}." for name, why in refused.items()]
    return "\n".join(lines) or "Nothing to publish: no module was selected and none was published."
