"""The pull request a Jules session opened: merged (squash) or closed through GitHub with the owner's token.

The decision is taken first (``sessions.decide_pull``); GitHub is then asked with no transaction open, and
what it answers is recorded: merged, closed, or back to waiting when the pull request has conflicts. A pull
request merged or closed on GitHub already is recorded as such, not as the clicker's decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from github import GithubException
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.repos import connections
from core.services import Services
from storage.models import RefineDecision, RefineSession, User

_PULL = re.compile(r"https://[^/]+/([\w.-]+/[\w.-]+)/pull/(\d{1,9})")


@dataclass(frozen=True)
class PullTarget:
    """Which pull request, and the token that may act on it (opened for one call: never keep or show it)."""

    full_name: str
    number: int
    title: str
    session: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class PullOutcome:
    """What GitHub did: the decision to record (None: back to waiting), whether it was ours, a note to show."""

    decision: RefineDecision | None
    by_us: bool
    note: str = ""


def target(session: Session, services: Services, row: RefineSession) -> PullTarget:
    """The pull request of ``row`` and the owner's GitHub token."""
    found = _PULL.fullmatch(row.pr_url.strip())
    if found is None:
        raise NotFound("This session's pull request is not on GitHub.", hint=f"Open {row.pr_url} instead.")
    owner = session.get(User, row.owner_id)
    conn = connections.find_repo(session, owner) if owner is not None else None
    if conn is None or conn.token_secret_id is None:
        raise NotFound("The module's owner has no GitHub token connected.", hint="The owner runs `/rad connect`.")
    return PullTarget(found.group(1), int(found.group(2)), row.pr_title or f"Jules session {row.jules_session}",
                      row.jules_session, connections.repository_token(session, services, conn))


def merge(services: Services, pull: PullTarget, row_id: int) -> PullOutcome:
    """Squash-merge the pull request; conflicts, or a pull request merged or closed already, are said."""
    with services.github().session(pull.token, f"merge pull request #{pull.number}", pull.full_name) as gh:
        pr = gh.get_repo(pull.full_name).get_pull(pull.number)
        if pr.merged:
            return PullOutcome(RefineDecision.MERGED, False, "It was merged on GitHub already.")
        if pr.state == "closed":
            return PullOutcome(RefineDecision.CLOSED, False, "It was closed on GitHub without merging.")
        try:
            done = pr.merge(merge_method="squash", commit_title=f"{pull.title} (Jules session {pull.session})",
                            commit_message=f"Merged from chat: Jules session {pull.session}, RAD refine session "
                                           f"{row_id}.")
        except GithubException as exc:
            if exc.status in (405, 409):
                return PullOutcome(None, True, "GitHub cannot merge it: it has conflicts with its base branch, or "
                                               "its branch changed. Ask Jules in this thread to rebase it, or "
                                               "resolve it on GitHub, then press Merge again.")
            raise
    return PullOutcome(RefineDecision.MERGED, True, f"Squashed into `{str(done.sha)[:12]}`.")


def close(services: Services, pull: PullTarget) -> PullOutcome:
    """Close the pull request unmerged (one merged or closed already is said)."""
    with services.github().session(pull.token, f"close pull request #{pull.number}", pull.full_name) as gh:
        pr = gh.get_repo(pull.full_name).get_pull(pull.number)
        if pr.merged:
            return PullOutcome(RefineDecision.MERGED, False, "It was merged on GitHub already.")
        if pr.state == "closed":
            return PullOutcome(RefineDecision.CLOSED, False, "It was closed on GitHub already.")
        pr.edit(state="closed")
    return PullOutcome(RefineDecision.CLOSED, True)


def record(session: Session, row: RefineSession, outcome: PullOutcome) -> None:
    """Keep what GitHub did: the decision (someone else's on GitHub has no decider), or waiting again."""
    if outcome.decision is None:
        row.pr_decision, row.pr_decided_by, row.pr_decided_at = RefineDecision.PENDING, None, None
    else:
        row.pr_decision = outcome.decision
        if not outcome.by_us:
            row.pr_decided_by = None
    session.flush()
