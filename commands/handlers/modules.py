"""Browse the catalog: ``/rad modules``, ``/rad module <name>``, ``/rad pin`` and ``/rad unpin``."""

from __future__ import annotations

from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Param, action, command, options_provider
from commands.handlers.deploy import start as deploy_start
from commands.ui.model import Button, Card, Control, Field, Form, Option, Reply
from commands.ui.paging import page_of
from core.accounts.roles import USER
from core.catalog import browse
from core.catalog.browse import TABS, ModuleRow, Tab
from core.credits.amounts import format_credits
from core.errors import InvalidInput
from core.hcl.display import hcl_value
from core.modules.model import Variable
from core.modules.spec import load_spec
from core.repos import connections
from core.wording import count
from storage.models import Module

PAGE_SIZE = 8
QUERY_MAX = 30
SUGGESTED = 100
"""Names a typeahead offers at most (Slack shows 100 options; Discord 25, its renderer cuts)."""
TAB_LABELS = {"platform": "Platform", "partner": "Partner", "pinned": "📌 Pinned", "all": "All"}
MODULE_PARAM = Param("module", "word", "The module's name", options="modules:names")


@command("modules", "Browse the modules you can deploy",
         params=(Param("tab", "choice", "Which modules", required=False, choices=TABS),
                 Param("search", "text", "Only modules whose name contains this", required=False)),
         details="Pinned modules come first, then the most deployed and best rated.", read_only=True)
def modules(ctx: Context, tab: str | None, search: str | None) -> Reply:
    """The first page of the catalog on a tab, optionally only names containing ``search``."""
    return listing(ctx, tab_of(tab or "all"), (search or "")[:QUERY_MAX], 1)


def tab_of(text: str) -> Tab:
    """The tab called ``text``; InvalidInput for anything else."""
    for tab in TABS:
        if tab == text:
            return tab
    raise InvalidInput(f"`{text}` is not a tab.", hint=f"Tabs are {', '.join(TABS)}.")


def view_value(tab: Tab, page: int, query: str) -> str:
    """``tab:page:query``; ``:`` because Discord custom ids reserve ``|``."""
    return f"{tab}:{page}:{query.replace('|', ' ')[:QUERY_MAX]}"


def parse_view(value: str) -> tuple[Tab, int, str]:
    """The tab, page and query of a :func:`view_value`; a page that is not a number reads as 1."""
    tab, _, rest = value.partition(":")
    page, _, query = rest.partition(":")
    return tab_of(tab or "all"), int(page) if page.isdigit() else 1, query


def listing(ctx: Context, tab: Tab, query: str, number: int, *, replace: bool = False) -> Reply:
    """One page of module cards, with the tab buttons and Previous/Next."""
    shown = page_of(browse.count(ctx.session, ctx.actor, tab, query), number, PAGE_SIZE)
    number = shown.number
    here = browse.browse(ctx.session, ctx.actor, tab, query, offset=shown.offset, limit=PAGE_SIZE)
    controls: list[Control] = [
        Button(TAB_LABELS[t], "modules:tab", view_value(t, 1, query), style="primary" if t == tab else "default")
        for t in TABS
    ]
    controls += shown.buttons("modules:tab", lambda n: view_value(tab, n, query))
    found = count(shown.total, "module") + (f" matching `{query}`" if query else "")
    text = f"*{TAB_LABELS[tab]} modules* – {found}, {shown.label}."
    if not shown.total:
        text += "\n" + (f"Pin a module with its 📌 button or `{ctx.slash} pin <module>`." if tab == "pinned"
                        else "Nothing here yet.")
    jules = jules_connected(ctx)
    cards = tuple(row_card(row, view_value(tab, number, query), refine=jules and owns(ctx, row.module))
                  for row in here)
    return Reply(text=text, cards=cards, actions=tuple(controls), replace_original=replace)


def row_card(row: ModuleRow, view: str, *, refine: bool = False) -> Card:
    """A module's card in the list: cost, deployments, rating, source, and its buttons.

    Deploy, Details, Pin or Unpin, and Refine when ``refine`` (the caller owns it and has Jules connected).
    """
    m = row.module
    rating = f"{row.rating} ★ ({m.rating_count})" if row.rating is not None else "not rated"
    fields = (Field("Credit cost", format_credits(m.credit_cost)), Field("Deployments", str(m.deployment_count)),
              Field("Rating", rating), Field("Source", m.source))
    pin = Button("Unpin" if row.pinned else "📌 Pin", "modules:pin", f"{m.id}:{view}")
    details = Button("Details", "modules:show", str(m.id))
    title = ("📌 " if row.pinned else "") + m.name
    text = m.description + ("\n⚠️ _No longer in its repository: the next publish removes it._" if m.missing else "")
    return Card(title, text=text, fields=fields, actions=module_buttons(m, pin, details, refine=refine))


def module_buttons(m: Module, pin: Button, details: Button | None = None, *, refine: bool = False,
                   ) -> tuple[Button, ...]:
    """A module card's buttons: Deploy, Details (when given), Pin or Unpin, and ✨ Refine for its refiner."""
    buttons = [Button("🚀 Deploy", "modules:deploy", str(m.id), style="primary")]
    if details is not None:
        buttons.append(details)
    buttons.append(pin)
    if refine:
        buttons.append(Button("✨ Refine", "modules:refine", str(m.id)))
    return tuple(buttons)


def owns(ctx: Context, m: Module) -> bool:
    """Whether the caller is the partner who published ``m`` from their repository (only they refine it)."""
    return m.owner_id is not None and m.owner_id == ctx.actor.id


def jules_connected(ctx: Context) -> bool:
    """Whether the caller has a Jules API key connected (``/rad connect jules``)."""
    conn = connections.find_jules(ctx.session, ctx.actor)
    return conn is not None and conn.key_secret_id is not None


@action("modules:deploy", roles=(USER,))
def deploy_action(ctx: Context, event: ActionEvent) -> Form | Reply:
    """The Deploy button: the module's deploy form (or its confirmation when it has no inputs)."""
    return deploy_start(ctx, visible_by_id(ctx, event.value))


@action("modules:tab", read_only=True)
def switch(ctx: Context, event: ActionEvent) -> Reply:
    """The tab and paging buttons: that page, in place."""
    tab, number, query = parse_view(event.value)
    return listing(ctx, tab, query, number, replace=True)


@action("modules:pin")
def toggle_pin(ctx: Context, event: ActionEvent) -> Reply:
    """Pin or unpin the module, then redraw the page the button was on."""
    module_id, _, view = event.value.partition(":")
    module = visible_by_id(ctx, module_id)
    if browse.is_pinned(ctx.session, ctx.actor, module):
        browse.unpin(ctx.session, ctx.actor, module)
    else:
        browse.pin(ctx.session, ctx.actor, module, ctx.now)
    tab, number, query = parse_view(view)
    return listing(ctx, tab, query, number, replace=True)


@action("modules:show", read_only=True)
def show_action(ctx: Context, event: ActionEvent) -> Reply:
    """The Details button: the module's details."""
    return details(ctx, visible_by_id(ctx, event.value))


def visible_by_id(ctx: Context, module_id: str) -> Module:
    """The module with that id if the caller may see it; NotFound otherwise."""
    module = ctx.session.get(Module, int(module_id)) if module_id.isdigit() else None
    return browse.find_visible(ctx.session, ctx.actor, module.name if module else "?")


@command("module", "Show one module: inputs, outputs, cost, dependencies", params=(MODULE_PARAM,),
         read_only=True)
def module(ctx: Context, module: str) -> Reply:
    """The details of the named module."""
    return details(ctx, browse.find_visible(ctx.session, ctx.actor, module))


def details(ctx: Context, m: Module) -> Reply:
    """Cards of one module: source, commit, cost, visibility, dependencies, inputs and outputs; a Pin button."""
    spec = load_spec(m.spec)
    pinned = browse.is_pinned(ctx.session, ctx.actor, m)
    about = Card(m.name, text=m.description, fields=tuple(f for f in (
        Field("Source", f"{m.source} · {m.repository}"),
        Field("Commit", f"`{m.commit[:12]}`"),
        Field("Credit cost", format_credits(m.credit_cost)
              + (" (purchased credits only)" if m.require_credit_purchases else "")),
        Field("Visibility", "everyone" if m.source == "platform" or m.public_access else "its partner and admins"),
        Field("Depends on", ", ".join(f"`{d}`" for d in m.dependencies) or "nothing"),
        Field("Documentation", m.documentation) if m.documentation else None,
    ) if f is not None), actions=module_buttons(m, Button("Unpin" if pinned else "📌 Pin", "modules:pin",
                                                         f"{m.id}:all:1:"),
                                               refine=owns(ctx, m) and jules_connected(ctx)))
    inputs = [input_line(v) for v in spec.inputs]
    outputs = [f"• `{o.name}`" + (" (sensitive)" if o.sensitive else "")
               + (f" – {o.description}" if o.description else "") for o in spec.outputs]
    cards = [about, Card("Inputs", text="\n".join(inputs) or "none")]
    if outputs:
        cards.append(Card("Outputs", text="\n".join(outputs)))
    return Reply(cards=tuple(cards))


def input_line(variable: Variable) -> str:
    """One input as the module card lists it: the default as Terraform converted it, never a sensitive one."""
    line = f"• `{variable.name}` ({variable.type})"
    if variable.required:
        line += " *required*"
    elif variable.sensitive:
        line += " default hidden"
    else:
        line += f" default `{hcl_value(variable.default)}`"
    if variable.description:
        line += f" – {variable.description}"
    return line


@command("pin", "Pin a module so it comes first", params=(MODULE_PARAM,))
def pin(ctx: Context, module: str) -> Reply:
    """Pin the module for the caller."""
    m = browse.find_visible(ctx.session, ctx.actor, module)
    browse.pin(ctx.session, ctx.actor, m, ctx.now)
    return Reply(text=f":pushpin: `{m.name}` is pinned.")


@command("unpin", "Unpin a module", params=(MODULE_PARAM,))
def unpin(ctx: Context, module: str) -> Reply:
    """Unpin the module for the caller."""
    m = browse.find_visible(ctx.session, ctx.actor, module)
    browse.unpin(ctx.session, ctx.actor, m)
    return Reply(text=f"`{m.name}` is unpinned.")


@options_provider("modules:names")
def module_names(ctx: Context, query: str, value: str) -> list[Option]:
    """Typeahead: the names of the modules the caller can see that match ``query``."""
    found = browse.browse(ctx.session, ctx.actor, "all", query, limit=SUGGESTED)
    return [Option(r.module.name, r.module.name) for r in found]
