"""The REST routes of the GitHub emulator: a small template router and one handler per endpoint.

Handlers get the emulator, the ``Request`` and the path parameters and return an ``Answer`` (or raise
``HttpError``); access checks, JSON views and pagination are the emulator's. Routes are tried in the
order they are registered here.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from tests.emulators.github_auth import Answer, HttpError, Request, not_found
from tests.emulators.github_git import PullRequest, Repository, Signature, merge_tree, touches
from tests.emulators.github_views import b64, node
from tests.emulators.http_base import Json

if TYPE_CHECKING:
    from tests.emulators.github import GitHubEmulator

Handler = Callable[["GitHubEmulator", Request, dict[str, str]], Answer]
"""A route handler: emulator, request, path parameters -> answer."""
_ROUTES: list[tuple[str, str, re.Pattern[str], Handler]] = []
_REPO = "/repos/{owner}/{repo}"


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    """Register a handler for ``template`` (``{name}`` matches one segment, ``{name+}`` the rest)."""
    pattern = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", template)
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)

    def register(handler: Handler) -> Handler:
        _ROUTES.append((method, template, re.compile(pattern + "/?"), handler))
        return handler
    return register


def find_route(method: str, path: str) -> tuple[str, Handler, dict[str, str]]:
    """The route name (``"GET /repos/{owner}/{repo}"``), its handler and the decoded path parameters."""
    for verb, template, pattern, handler in _ROUTES:
        match = pattern.fullmatch(path)
        if match and verb == method:
            return f"{verb} {template}", handler, {k: unquote(v) for k, v in match.groupdict().items() if v}
    return f"{method} (unknown)", _unknown, {}


def _unknown(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    """Any path without a route: 404."""
    raise not_found()


@route("GET", "/rate_limit")
def _rate_limit(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    return Answer(200, emu._rate_json(emu.bucket(req.user.login if req.user else None)))  # served before routing


@route("GET", "/user")
def _get_user(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    if req.user is None:
        raise HttpError(401, "Requires authentication")
    data = emu.user_json(req.user.login)
    owned = [r for r in emu._repos.values() if r.owner == req.user.login]
    data |= {"name": req.user.name, "email": req.user.email, "company": None, "blog": "", "location": None,
             "bio": None, "public_repos": sum(not r.private for r in owned), "public_gists": 0, "followers": 0,
             "following": 0, "created_at": "2020-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z",
             "private_gists": 0, "total_private_repos": sum(r.private for r in owned),
             "owned_private_repos": sum(r.private for r in owned), "two_factor_authentication": True,
             "plan": {"name": "pro", "space": 976562499, "private_repos": 9999, "collaborators": 0}}
    return Answer(200, data)


@route("GET", "/users/{login}")
def _get_named_user(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    if params["login"] not in emu._users:
        raise not_found()
    return Answer(200, emu.user_json(params["login"]))


@route("GET", "/user/repos")
def _list_user_repos(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    user, token = req.user, req.token
    if user is None or token is None:
        raise HttpError(401, "Requires authentication")
    affiliation = req.query.get("affiliation", "owner,collaborator,organization_member").split(",")
    visibility = req.query.get("visibility", "all")
    repos = []
    for repo in emu._repos.values():
        relation = "owner" if repo.owner == user.login else "collaborator" if user.login in repo.collaborators else ""
        if relation not in affiliation or visibility not in ("all", "private" if repo.private else "public"):
            continue
        if token.kind == "classic" and repo.private and "repo" not in token.scopes:
            continue
        if token.kind == "fine-grained" and repo.full_name not in token.repositories:
            continue
        repos.append(repo)
    sort = req.query.get("sort", "full_name")
    descending = req.query.get("direction", "asc" if sort == "full_name" else "desc") == "desc"
    key: Callable[[Repository], Any] = {
        "created": lambda r: (r.created_at, r.id), "updated": lambda r: r.pushed_at, "pushed": lambda r: r.pushed_at,
    }.get(sort, lambda r: r.full_name.lower())
    repos.sort(key=key, reverse=descending)
    return emu.page(req, [emu.repo_json(r, user) for r in repos])


@route("GET", _REPO)
def _get_repo(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"])
    return Answer(200, emu.repo_json(repo, req.user))


@route("GET", _REPO + "/contents")
@route("GET", _REPO + "/contents/{path+}")
def _get_contents(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    ref = req.query.get("ref") or repo.default_branch
    sha = repo.resolve(ref)
    if sha is None:
        raise HttpError(404, f"No commit found for the ref {ref}")
    path = params.get("path", "").strip("/")
    entry = repo.store.lookup(repo.store.commits[sha].tree, path)
    if entry is None:
        raise not_found()
    if entry.type == "tree":
        listing = [emu.content_json(repo, f"{path}/{e.name}".lstrip("/"), e, ref, sha)
                   for e in repo.store.trees[entry.sha]]
        return Answer(200, listing)
    too_big = repo.store.size(entry.sha) > 1024 * 1024
    data = b"" if too_big else repo.store.blobs[entry.sha]
    body = emu.content_json(repo, path, entry, ref, sha)
    body |= {"content": "" if too_big else b64(data), "encoding": "none" if too_big else "base64"}
    return Answer(200, body)


@route("GET", _REPO + "/git/ref/{ref+}")
def _get_ref(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    branch = params["ref"].removeprefix("refs/").removeprefix("heads/")
    if not params["ref"].removeprefix("refs/").startswith("heads/") or branch not in repo.branches:
        raise not_found()
    return Answer(200, emu.ref_json(repo, branch))


@route("GET", _REPO + "/git/refs")
@route("GET", _REPO + "/git/refs/{ref+}")
@route("GET", _REPO + "/git/matching-refs/{ref+}")
def _list_refs(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    wanted = "refs/" + params.get("ref", "").removeprefix("refs/")
    refs = [emu.ref_json(repo, b) for b in sorted(repo.branches)]
    exact = [r for r in refs if r["ref"] == wanted]
    if exact and "/matching-refs/" not in req.path:
        return Answer(200, exact[0])
    found = [r for r in refs if r["ref"].startswith(wanted)]
    if not found and "/git/refs/" in req.path:
        raise not_found()
    return emu.page(req, found)


@route("GET", _REPO + "/git/commits/{sha}")
def _get_git_commit(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    if params["sha"] not in repo.store.commits:
        raise not_found()
    return Answer(200, emu.git_commit_json(repo, params["sha"]))


@route("GET", _REPO + "/git/trees/{sha}")
def _get_tree(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    tree = params["sha"] if params["sha"] in repo.store.trees else None
    commit = repo.resolve(params["sha"]) if tree is None else None
    tree = tree or (repo.store.commits[commit].tree if commit else None)
    if tree is None:
        raise not_found()
    api = emu.repo_url(repo)
    walked = repo.store.walk(tree) if "recursive" in req.query else ((e.name, e) for e in repo.store.trees[tree])
    entries = list(itertools.islice(walked, emu.max_tree_entries + 1))
    listing = []
    for path, e in entries[:emu.max_tree_entries]:
        item: Json = {"path": path, "mode": e.mode, "type": e.type, "sha": e.sha}
        if e.type == "blob":
            item["size"] = repo.store.size(e.sha)
        listing.append(item | {"url": f"{api}/git/{e.type}s/{e.sha}"})
    return Answer(200, {"sha": tree, "url": f"{api}/git/trees/{tree}", "tree": listing,
                        "truncated": len(entries) > emu.max_tree_entries})


@route("GET", _REPO + "/git/blobs/{sha}")
def _get_blob(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    data = repo.store.data(params["sha"])
    if data is None:
        raise not_found()
    sha = params["sha"]
    return Answer(200, {"sha": sha, "node_id": node("B", int(sha[:8], 16)), "size": len(data),
                        "url": f"{emu.repo_url(repo)}/git/blobs/{sha}", "content": b64(data), "encoding": "base64"})


@route("GET", _REPO + "/branches")
def _list_branches(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    return emu.page(req, [{"name": b, "commit": {"sha": s, "url": f"{emu.repo_url(repo)}/commits/{s}"},
                           "protected": False} for b, s in sorted(repo.branches.items())])


@route("GET", _REPO + "/branches/{branch+}")
def _get_branch(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    name = params["branch"]
    if name not in repo.branches:
        raise HttpError(404, "Branch not found")
    api, web = emu.repo_url(repo), f"{emu.web_url}/{repo.full_name}"
    return Answer(200, {"name": name, "commit": emu.commit_json(repo, repo.branches[name], with_files=False),
                        "_links": {"self": f"{api}/branches/{quote(name)}", "html": f"{web}/tree/{quote(name)}"},
                        "protected": False,
                        "protection": {"enabled": False, "required_status_checks": {
                            "enforcement_level": "off", "contexts": [], "checks": []}},
                        "protection_url": f"{api}/branches/{quote(name)}/protection"})


@route("GET", _REPO + "/commits")
def _list_commits(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    head = repo.resolve(req.query.get("sha") or repo.default_branch)
    if head is None:
        raise HttpError(404, "Not Found")
    path = req.query.get("path", "").strip("/")
    shas = [s for s in repo.store.ancestors(head) if not path or touches(repo, s, path)]
    return emu.page(req, [emu.commit_json(repo, s, with_files=False) for s in shas])


@route("GET", _REPO + "/commits/{ref+}")
def _get_commit(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "contents")
    sha = repo.resolve(params["ref"])
    if sha is None:
        raise HttpError(422, f"No commit found for SHA: {params['ref']}")
    return Answer(200, emu.commit_json(repo, sha))


@route("GET", _REPO + "/pulls")
def _list_pulls(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "pull_requests")
    state = req.query.get("state", "open")
    head, base = req.query.get("head", ""), req.query.get("base", "")
    pulls = [p for p in sorted(repo.pulls.values(), key=lambda p: p.number, reverse=True)
             if state in ("all", p.state) and head.split(":")[-1] in ("", p.head) and base in ("", p.base)]
    return emu.page(req, [emu.pull_json(repo, p, full=False) for p in pulls])


@route("POST", _REPO + "/pulls")
def _create_pull(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo = emu.access(req, params["owner"], params["repo"], "pull_requests", write=True)
    assert req.user is not None
    body = req.body if isinstance(req.body, dict) else {}
    head, base = str(body.get("head", "")).split(":")[-1], str(body.get("base", ""))
    for name, value in (("title", body.get("title")), ("head", head), ("base", base)):
        if not value or (name != "title" and value not in repo.branches):
            raise HttpError(422, "Validation Failed", errors=[{"resource": "PullRequest", "field": name,
                                                              "code": "missing_field" if not value else "invalid"}])
    if not [s for s in repo.store.ancestors(repo.branches[head]) if s not in repo.store.ancestors(repo.branches[base])]:
        raise HttpError(422, "Validation Failed",
                        errors=[{"resource": "PullRequest", "code": "custom",
                                 "message": f"No commits between {base} and {head}"}])
    if any(p.head == head and p.base == base and p.state == "open" for p in repo.pulls.values()):
        raise HttpError(422, "Validation Failed",
                        errors=[{"resource": "PullRequest", "code": "custom",
                                 "message": f"A pull request already exists for {repo.owner}:{head}."}])
    number = len(repo.pulls) + 1
    pr = PullRequest(number, 9_000_000 + repo.id % 1000 * 1000 + number, str(body["title"]), body.get("body"), head,
                     base, req.user.login, repo.now(), bool(body.get("draft", False)))
    repo.pulls[number] = pr
    return Answer(201, emu.pull_json(repo, pr))


def _pull(emu: GitHubEmulator, req: Request, params: dict[str, str], write: bool = False,
          need: str = "pull_requests") -> tuple[Repository, PullRequest]:
    """The accessible repository and its pull request ``number``, or 404."""
    repo = emu.access(req, params["owner"], params["repo"], need, write=write)
    pr = repo.pulls.get(int(params["number"]))
    if pr is None:
        raise not_found()
    return repo, pr


@route("GET", _REPO + "/pulls/{number}")
def _get_pull(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo, pr = _pull(emu, req, params)
    return Answer(200, emu.pull_json(repo, pr))


@route("PATCH", _REPO + "/pulls/{number}")
def _update_pull(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo, pr = _pull(emu, req, params, write=True)
    body = req.body if isinstance(req.body, dict) else {}
    if body.get("state") not in (None, "open", "closed") or (body.get("base") and body["base"] not in repo.branches):
        raise HttpError(422, "Validation Failed", errors=[{"resource": "PullRequest", "code": "invalid",
                                                          "field": "state" if "state" in body else "base"}])
    pr.title, pr.body, pr.base = body.get("title", pr.title), body.get("body", pr.body), body.get("base", pr.base)
    now = repo.now()
    if body.get("state") == "closed" and pr.state == "open":
        pr.state, pr.closed_at, pr.head_sha = "closed", now, repo.branches.get(pr.head)
    elif body.get("state") == "open" and pr.state == "closed" and pr.merged_at is None:
        pr.state, pr.closed_at, pr.head_sha = "open", None, None
    pr.updated_at = now
    return Answer(200, emu.pull_json(repo, pr))


@route("GET", _REPO + "/pulls/{number}/merge")
def _is_merged(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    _, pr = _pull(emu, req, params)
    if pr.merged_at is None:
        raise not_found()
    return Answer(204, raw=b"")


@route("PUT", _REPO + "/pulls/{number}/merge")
def _merge_pull(emu: GitHubEmulator, req: Request, params: dict[str, str]) -> Answer:
    repo, pr = _pull(emu, req, params, write=True, need="contents")
    assert req.user is not None
    body = req.body if isinstance(req.body, dict) else {}
    method = body.get("merge_method", "merge")
    if method not in ("merge", "squash", "rebase"):
        raise HttpError(422, "Invalid merge_method")
    head_sha = repo.branches.get(pr.head)
    if pr.state != "open" or head_sha is None:
        raise HttpError(405, "Pull Request is not mergeable")
    if body.get("sha") and body["sha"] != head_sha:
        raise HttpError(409, "Head branch was modified. Review and try the merge again.")
    base_sha = repo.branches[pr.base]
    files = merge_tree(repo, base_sha, head_sha)
    if files is None:
        raise HttpError(405, "Pull Request is not mergeable")
    title = body.get("commit_title") or (f"{pr.title} (#{pr.number})" if method != "merge" else
                                         f"Merge pull request #{pr.number} from {repo.owner}/{pr.head}")
    message = f"{title}\n\n{body.get('commit_message') or (pr.title if method == 'merge' else pr.body or '')}"
    who = Signature(req.user.name, req.user.email, repo.now())
    parents = (base_sha, head_sha) if method == "merge" else (base_sha,)
    sha = repo.store.put_commit(repo.store.put_files(files), parents, message, who, who)
    repo.branches[pr.base] = sha
    pr.state, pr.merged_at, pr.closed_at, pr.updated_at = "closed", who.when, who.when, who.when
    pr.merged_by, pr.merge_commit_sha, pr.head_sha = req.user.login, sha, head_sha
    return Answer(200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"})

