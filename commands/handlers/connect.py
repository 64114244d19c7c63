"""Connect a GitHub repository and a Jules API key: ``/rad connect``, ``/rad disconnect``, ``/rad admin connect``.

Tokens and keys are asked for only in a form, checked before anything is kept, and never shown again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Args, Param, action, command, form, options_provider
from commands.ui.model import Button, Card, Confirm, Field, Form, FormValue, Input, Option, Reply, Select
from core.accounts.roles import ADMIN, PARTNER, has_any, require_any
from core.catalog import publish as catalog
from core.errors import InvalidInput, RadError
from core.repos import connections
from core.wording import count
from storage.models import RepoConnection, User

PLATFORM = "platform"
PARTNER_SCOPE = "partner"
SCOPES = (PARTNER_SCOPE, PLATFORM)
TOKEN_HELP = ("A classic token with the `repo` scope, or a fine-grained token with Contents: Read-only on the "
              "repository. It is checked with GitHub, stored encrypted and never shown again.")
JULES_HELP = ("From jules.google.com → Settings → API keys. It is checked with Jules, stored encrypted and never "
              "shown again.")
INSTALL_JULES = ("Install the Jules GitHub app on it (jules.google.com → connect GitHub → choose the repository), "
                 "then run `{slash} connect jules` again to check.")
def repository_param(scope: str) -> Param:
    """The optional ``repository`` parameter, completed from the token's repositories (platform: also a folder)."""
    about = "owner/name when choosing the repository" + (", or a folder with `local`" if scope == PLATFORM else "")
    return Param("repository", "word", about, required=False, options="connect:repos", options_value=scope)


def owner_for(ctx: Context, scope: str) -> User | None:
    """The connection's owner: the caller for a partner connection, None for the platform's (admins only)."""
    if scope == PLATFORM:
        require_any(ctx.actor, (ADMIN,), "connect the platform repository")
        return None
    if scope != PARTNER_SCOPE:
        raise InvalidInput("That connection no longer exists.", hint=f"Run `{ctx.slash} connect` again.")
    return ctx.actor


def token_form(scope: str) -> Form:
    """The form asking for a GitHub token; its state is ``scope`` (partner or platform)."""
    whose = "the platform's" if scope == PLATFORM else "your"
    return Form(
        title="Connect GitHub",
        action_id="connect:github",
        submit_label="Check token",
        state=scope,
        intro=f"Paste a GitHub personal access token that can read {whose} Terraform modules repository.",
        inputs=(Input("token", "Personal access token", kind="secret", help=TOKEN_HELP, max_length=512),),
    )


def jules_form() -> Form:
    """The form asking for a Jules API key."""
    return Form(title="Connect Jules", action_id="connect:jules", submit_label="Check key",
                inputs=(Input("key", "Jules API key", kind="secret", help=JULES_HELP, max_length=512),))


def names_repository(args: Args) -> bool:
    """``connect repo <owner/name>`` asks GitHub at once: slow, so no transaction is held while it waits."""
    return args.get("target") in ("repo", None) and bool(args.get("repository"))


def run_connect(ctx: Context, scope: str, target: str | None, repository: str | None) -> Reply | Form:
    """``connect`` and ``admin connect``: status, a local folder, a named repository, Jules, else the token form.

    A ``repository`` without a ``target`` means ``repo``.
    """
    repository = repository or ""
    target = target or ("repo" if repository else "github")
    if target == "status":
        return status_reply(ctx, scope)
    if target == "local":
        if scope != PLATFORM or not repository:
            raise InvalidInput("Which folder?", hint=f"`{ctx.slash} admin connect local /path/to/modules`")
        conn = connections.connect_local(ctx.session, ctx.actor, repository, ctx.now)
        return Reply(text=f":white_check_mark: The platform repository is the folder `{conn.full_name}`. "
                          f"Publish from it with `{ctx.slash} admin publish`.")
    if target == "repo":
        if not repository:
            raise InvalidInput("Which repository?", hint=f"`{ctx.slash} connect repo <owner/name>`")
        return chosen_reply(ctx, scope, repository)
    if target == "jules":
        if scope == PLATFORM:
            raise InvalidInput("The platform has no Jules key.", hint=f"Partners run `{ctx.slash} connect jules`.")
        return jules_form()
    owner_for(ctx, scope)
    return token_form(scope)


@command("connect", "Connect your GitHub repository (a form asks for a token), or Jules, or show the status",
         params=(Param("target", "choice", "What to connect", required=False,
                       choices=("github", "jules", "status", "repo")), repository_param(PARTNER_SCOPE)),
         roles=(PARTNER,), slow=names_repository,
         details="`connect` asks for a GitHub token, then lets you pick the repository; `connect repo <owner/name>` "
                 "picks it by name; `connect jules` asks for a Jules API key; `connect status` shows both.")
def connect(ctx: Context, target: str | None, repository: str | None) -> Reply | Form:
    """Partner connections (see :func:`run_connect`)."""
    return run_connect(ctx, PARTNER_SCOPE, target, repository)


@command("admin connect", "Connect the platform repository (platform modules are published from it)",
         params=(Param("target", "choice", "What to do", required=False,
                       choices=("github", "status", "repo", "local")),
                 repository_param(PLATFORM)),
         roles=(ADMIN,), slow=names_repository,
         details="`admin connect local <folder>` uses a folder on the bot's machine instead of GitHub.")
def admin_connect(ctx: Context, target: str | None, repository: str | None) -> Reply | Form:
    """The platform repository's connection (see :func:`run_connect`)."""
    return run_connect(ctx, PLATFORM, target, repository)


@action("connect:start", roles=(PARTNER,))
def start_again(ctx: Context, event: ActionEvent) -> Form:
    """The Try again button: the Jules form, or the token form of the scope it carries."""
    if event.value == "jules":
        return jules_form()
    owner_for(ctx, event.value)
    return token_form(event.value)


@form("connect:github", roles=(PARTNER,), slow=True)
def token_submitted(ctx: Context, values: Mapping[str, FormValue], state: str) -> Reply:
    """Check the token with GitHub and keep it, then offer the repositories it reaches.

    A refused token stores nothing and answers with the reason and a Try again button.
    """
    owner = owner_for(ctx, state)
    try:
        result = connections.connect_token(ctx.session, ctx.services, ctx.actor, owner, str(values.get("token") or ""),
                                           ctx.now)
    except RadError as error:
        return retry_reply(error, state)
    info = result.info
    scopes = f", scopes {', '.join(info.scopes)}" if info.scopes else ""
    lead = f":white_check_mark: The token of *{info.login}* works ({info.kind}{scopes})."
    if not result.repositories:
        return Reply(text=f"{lead}\nBut it reaches no repository. Give it access to your modules repository "
                          f"(fine-grained tokens: *Repository access*), then run `{ctx.slash} connect` again.")
    command_name = "admin connect" if state == PLATFORM else "connect"
    more = f" (the first {len(result.repositories)} shown)" if result.truncated else ""
    return Reply(
        text=f"{lead}\nIt reaches {len(result.repositories)} repositories{more}. Pick the one that holds the "
             f"Terraform modules, or type `{ctx.slash} {command_name} repo <owner/name>`.",
        actions=(repository_select(result.repositories, state),),
    )


def repository_select(names: tuple[str, ...] | list[str], scope: str) -> Select:
    """The repository picker, searchable beyond the listed names through the ``connect:repos`` options."""
    return Select("connect:repo", tuple(Option(n, n) for n in names), placeholder="Choose the repository",
                  value=scope, options_source="connect:repos")


@options_provider("connect:repos", roles=(PARTNER,))
def repository_options(ctx: Context, query: str, value: str) -> list[Option]:
    """Typeahead of the picker: up to 100 of the connection's repositories matching ``query``."""
    if value == PLATFORM and not has_any(ctx.actor, (ADMIN,)):
        return []  # typeahead: offer nothing rather than audit a refusal per keystroke
    conn = connections.find_repo(ctx.session, owner_for(ctx, value or PARTNER_SCOPE))
    names = connections.search(conn.choices, query, 100) if conn else []
    return [Option(n, n) for n in names]


@action("connect:repo", roles=(PARTNER,), slow=True)
def repository_chosen(ctx: Context, event: ActionEvent) -> Reply:
    """A repository picked from the list: checked with GitHub and connected, in place of the picker."""
    if not event.selected:
        raise InvalidInput("Choose a repository.")
    reply = chosen_reply(ctx, event.value, event.selected[0])
    return reply.replacing()


def chosen_reply(ctx: Context, scope: str, full_name: str) -> Reply:
    """Check the repository with GitHub (no transaction open), then keep it; for slow handlers only."""
    owner = owner_for(ctx, scope)
    summary, previous = connections.choose_repository(ctx.db, ctx.session, ctx.services, ctx.actor, owner,
                                                      full_name, ctx.now)
    text = (f":white_check_mark: Connected *{summary.full_name}* (branch `{summary.default_branch}`). "
            f"Modules are the top-level folders holding `.tf` files.")
    if previous and previous != summary.full_name:
        text += f"\nThe repository changed from *{previous}*."
        published = catalog.published_by(ctx.session, owner)
        if published:
            text += (f" {count(len(published), 'published module')} came from it: `{ctx.slash} publish` shows those "
                     "missing here, and publishing removes them.")
    if scope == PARTNER_SCOPE:
        text += "\n" + jules_line(ctx, summary.full_name)
    return Reply(text=text)


def jules_line(ctx: Context, full_name: str) -> str:
    """Whether Jules can work on the repository: no key yet, it can, or how to install the Jules app on it."""
    conn = connections.find_jules(ctx.session, ctx.actor)
    if conn is None or conn.key_secret_id is None:
        return f"To refine modules with Jules, run `{ctx.slash} connect jules`."
    if connections.jules_source(full_name) in conn.sources:
        return f"Jules can work on *{full_name}*."
    return f"Jules cannot see *{full_name}* yet. " + INSTALL_JULES.format(slash=ctx.slash)


@form("connect:jules", roles=(PARTNER,), slow=True)
def jules_submitted(ctx: Context, values: Mapping[str, FormValue], state: str) -> Reply:
    """Check the Jules key and keep it, then say whether Jules sees the connected repository.

    A refused key stores nothing and answers with the reason and a Try again button.
    """
    try:
        conn = connections.connect_jules(ctx.session, ctx.services, ctx.actor, str(values.get("key") or ""), ctx.now)
    except RadError as error:
        return retry_reply(error, "jules")
    repo = connections.find_repo(ctx.session, ctx.actor)
    text = f":white_check_mark: The Jules key works; it sees {count(len(conn.sources), 'source')}."
    if repo is not None and repo.full_name:
        text += "\n" + jules_line(ctx, repo.full_name)
    else:
        text += f"\nConnect your repository with `{ctx.slash} connect` so Jules can work on it."
    return Reply(text=text)


def retry_reply(error: RadError, start: str) -> Reply:
    """The refusal, that nothing was stored, and a Try again button reopening the ``start`` form."""
    text = f":warning: {error.message}" + (f"\n{error.hint}" if error.hint else "") + "\nNothing was stored."
    return Reply(text=text, actions=(Button("Try again", "connect:start", start, style="primary"),))


def when(moment: datetime | None) -> str:
    """A moment as ``YYYY-MM-DD HH:MM UTC``, or ``never``."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def status_reply(ctx: Context, scope: str) -> Reply:
    """Cards of the GitHub connection and, for a partner, of the Jules key; never a secret."""
    owner = owner_for(ctx, scope)
    repo = connections.find_repo(ctx.session, owner)
    cards = [github_card(repo, "Platform repository" if owner is None else "GitHub")]
    if owner is not None:
        jules = connections.find_jules(ctx.session, owner)
        has_key = jules is not None and jules.key_secret_id is not None
        fields = [Field("Key", "connected" if has_key else "not connected"),
                  Field("Last checked", when(jules.checked_at if jules else None))]
        if has_key and jules is not None and repo is not None and repo.full_name:
            registered = connections.jules_source(repo.full_name) in jules.sources
            fields.append(Field("Repository as a Jules source", "registered" if registered else "not registered"))
        cards.append(Card("Jules", fields=tuple(fields)))
    return Reply(cards=tuple(cards))


def github_card(repo: RepoConnection | None, title: str) -> Card:
    """The GitHub connection's card: repository, branch, whose token of which kind, scopes, last checks."""
    if repo is None:
        return Card(title, text="Not connected.")
    has_token = repo.token_secret_id is not None
    return Card(title, fields=(
        Field("Repository", repo.full_name or "not chosen yet"),
        Field("Branch", repo.default_branch or "–"),
        Field("Token", f"{repo.token_login} ({repo.token_kind})" if has_token else "not connected"),
        Field("Scopes", ", ".join(repo.token_scopes) or ("fine-grained" if repo.token_kind == "fine-grained" else "–")),
        Field("Token checked", when(repo.token_checked_at)),
        Field("Repository checked", when(repo.repo_checked_at)),
    ))


@command("disconnect", "Forget your GitHub token or Jules key (asks first)",
         params=(Param("target", "choice", "What to forget", required=False, choices=("github", "jules")),),
         roles=(PARTNER,))
def disconnect(ctx: Context, target: str | None) -> Reply:
    """Ask before forgetting the GitHub token or the Jules key: a danger button with a confirmation."""
    target = str(target or "github")
    what = "GitHub token" if target == "github" else "Jules key"
    return Reply(text=f"Forget your {what}? You can connect again at any time.", actions=(
        Button(f"Forget the {what}", "connect:forget", target, style="danger",
               confirm=Confirm(f"Forget the {what}?", f"RAD deletes the stored {what}. This cannot be undone.",
                               confirm="Forget it")),
    ))


@action("connect:forget", roles=(PARTNER,))
def forget(ctx: Context, event: ActionEvent) -> Reply:
    """Delete the stored GitHub token or Jules key the button names, in place of the question."""
    if event.value == "jules":
        done, what = connections.disconnect_jules(ctx.session, ctx.actor), "Jules key"
    elif event.value == "github":
        done, what = connections.disconnect_github(ctx.session, ctx.actor, ctx.actor), "GitHub token"
    else:
        raise InvalidInput("That button no longer does anything.")
    text = f":white_check_mark: Your {what} is forgotten." if done else f"No {what} was connected."
    return Reply(text=text, replace_original=True)
