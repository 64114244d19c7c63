"""The JSON shapes the GitHub emulator answers with (users, repositories, refs, commits, contents,
pull requests) and GitHub's ``Link``-header pagination.

``GitHubViews`` is a mixin of ``GitHubEmulator``: the views need its URLs and its users.
"""

from __future__ import annotations

import base64
import difflib
import math
from typing import Any
from urllib.parse import quote, urlencode

from tests.emulators.github_auth import ROLES, Answer, Request, User, role_of
from tests.emulators.github_git import Entry, PullRequest, Repository, iso, merge_base, merge_tree
from tests.emulators.http_base import Json


def b64(data: bytes) -> str:
    """Base64 wrapped at 60 columns with a trailing newline, as GitHub sends file contents."""
    text = base64.b64encode(data).decode()
    return "".join(text[i:i + 60] + "\n" for i in range(0, len(text), 60))


def node(kind: str, number: int) -> str:
    """A GraphQL node id in GitHub's legacy shape."""
    return base64.b64encode(f"0{kind}{number}".encode()).decode().rstrip("=")


def _int(value: str | None, default: int) -> int:
    """``value`` as a number, ``default`` unless it is all digits."""
    return int(value) if value and value.isdigit() else default


class GitHubViews:
    """The JSON views; the emulator provides ``url``, ``host``, ``port``, ``web_url`` and ``_users``."""

    host: str
    port: int
    web_url: str
    _users: dict[str, User]

    @property
    def url(self) -> str:
        """The REST base URL (defined by the emulator)."""
        raise NotImplementedError

    def repo_url(self, repo: Repository) -> str:
        """The REST URL of ``repo``."""
        return f"{self.url}/repos/{repo.full_name}"

    def user_json(self, login: str) -> Json:
        """A simple user (an organisation when ``login`` is not a known user)."""
        user = self._users.get(login)
        kind, uid = (user.type, user.id) if user else ("Organization", 500_000 + sum(map(ord, login)))
        return {"login": login, "id": uid, "node_id": node("U", uid),
                "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4", "gravatar_id": "",
                "url": f"{self.url}/users/{login}", "html_url": f"{self.web_url}/{login}",
                "repos_url": f"{self.url}/users/{login}/repos", "type": kind, "user_view_type": "public",
                "site_admin": False}

    def repo_json(self, repo: Repository, user: User | None) -> Json:
        """A full repository, with ``permissions`` as seen by ``user`` (when given)."""
        api, web, role = self.repo_url(repo), f"{self.web_url}/{repo.full_name}", role_of(repo, user)
        data: Json = {
            "id": repo.id, "node_id": node("R", repo.id), "name": repo.name, "full_name": repo.full_name,
            "private": repo.private, "owner": self.user_json(repo.owner), "html_url": web,
            "description": repo.description, "fork": False, "url": api,
            "branches_url": f"{api}/branches{{/branch}}", "commits_url": f"{api}/commits{{/sha}}",
            "contents_url": f"{api}/contents/{{+path}}", "git_refs_url": f"{api}/git/refs{{/sha}}",
            "trees_url": f"{api}/git/trees{{/sha}}", "blobs_url": f"{api}/git/blobs{{/sha}}",
            "pulls_url": f"{api}/pulls{{/number}}", "created_at": iso(repo.created_at),
            "updated_at": iso(repo.pushed_at), "pushed_at": iso(repo.pushed_at),
            "git_url": f"git://github.com/{repo.full_name}.git", "ssh_url": f"git@github.com:{repo.full_name}.git",
            "clone_url": f"{web}.git", "homepage": None, "size": sum(map(len, repo.store.blobs.values())) // 1024,
            "stargazers_count": 0, "watchers_count": 0, "language": "HCL", "forks_count": 0, "archived": False,
            "disabled": False, "open_issues_count": sum(p.state == "open" for p in repo.pulls.values()),
            "visibility": "private" if repo.private else "public", "forks": 0, "open_issues": 0, "watchers": 0,
            "default_branch": repo.default_branch, "topics": [], "has_issues": True, "is_template": False,
        }
        if user is not None:
            rank = ROLES.index(role) if role else (0 if not repo.private else -1)
            data["permissions"] = {r: rank >= ROLES.index(r) for r in ("admin", "maintain", "push", "triage", "pull")}
        return data

    def ref_json(self, repo: Repository, branch: str) -> Json:
        """A git reference to a branch head."""
        sha = repo.branches[branch]
        return {"ref": f"refs/heads/{branch}", "node_id": node("REF", hash(branch) & 0xFFFFFF),
                "url": f"{self.repo_url(repo)}/git/refs/heads/{quote(branch)}",
                "object": {"sha": sha, "type": "commit", "url": f"{self.repo_url(repo)}/git/commits/{sha}"}}

    def git_commit_json(self, repo: Repository, sha: str) -> Json:
        """A git commit object (``/git/commits``)."""
        c, api = repo.store.commits[sha], self.repo_url(repo)
        return {"sha": sha, "node_id": node("C", int(sha[:8], 16)), "url": f"{api}/git/commits/{sha}",
                "html_url": f"{self.web_url}/{repo.full_name}/commit/{sha}", "author": c.author.json(),
                "committer": c.committer.json(), "tree": {"sha": c.tree, "url": f"{api}/git/trees/{c.tree}"},
                "message": c.message,
                "parents": [{"sha": p, "url": f"{api}/git/commits/{p}",
                             "html_url": f"{self.web_url}/{repo.full_name}/commit/{p}"} for p in c.parents],
                "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None,
                                 "verified_at": None}}

    def commit_json(self, repo: Repository, sha: str, with_files: bool = True) -> Json:
        """A REST commit (``/commits``), with stats and files against its first parent when ``with_files``."""
        c, api = repo.store.commits[sha], self.repo_url(repo)
        git = self.git_commit_json(repo, sha)
        by_email = {u.email: u.login for u in self._users.values()}
        data: Json = {
            "sha": sha, "node_id": git["node_id"],
            "commit": {k: git[k] for k in ("author", "committer", "message", "tree", "verification")}
            | {"url": git["url"], "comment_count": 0},
            "url": f"{api}/commits/{sha}", "html_url": git["html_url"], "comments_url": f"{api}/commits/{sha}/comments",
            "author": self.user_json(by_email[c.author.email]) if c.author.email in by_email else None,
            "committer": self.user_json(by_email[c.committer.email]) if c.committer.email in by_email else None,
            "parents": [{"sha": p, "url": f"{api}/commits/{p}",
                         "html_url": f"{self.web_url}/{repo.full_name}/commit/{p}"} for p in c.parents],
        }
        if with_files:
            old = repo.store.commits[c.parents[0]].tree if c.parents else None
            files = self.file_changes(repo, old, c.tree, sha)
            added, removed = sum(f["additions"] for f in files), sum(f["deletions"] for f in files)
            data |= {"stats": {"total": added + removed, "additions": added, "deletions": removed}, "files": files}
        return data

    def file_changes(self, repo: Repository, old_tree: str | None, new_tree: str, sha: str) -> list[Json]:
        """The changed files between two trees, with unified-diff patches for text files."""
        store, api, web = repo.store, self.repo_url(repo), f"{self.web_url}/{repo.full_name}"
        old = store.files(old_tree) if old_tree else {}
        new = store.files(new_tree)
        changes: list[Json] = []
        for path in sorted(set(old) | set(new)):
            before, after = old.get(path), new.get(path)
            if before == after:
                continue
            a = store.blobs[before.sha] if before else b""
            b = store.blobs[after.sha] if after else b""
            lines = list(difflib.unified_diff(a.decode("utf-8", "replace").splitlines(),
                                              b.decode("utf-8", "replace").splitlines(), lineterm="", n=3))[2:]
            plus = sum(1 for line in lines if line.startswith("+"))
            minus = sum(1 for line in lines if line.startswith("-"))
            status = "added" if not before else "removed" if not after else "modified"
            entry: Json = {"sha": (after or before).sha,  # type: ignore[union-attr]
                           "filename": path, "status": status,
                           "additions": plus, "deletions": minus, "changes": plus + minus,
                           "blob_url": f"{web}/blob/{sha}/{quote(path)}", "raw_url": f"{web}/raw/{sha}/{quote(path)}",
                           "contents_url": f"{api}/contents/{quote(path)}?ref={sha}"}
            if b"\0" not in a + b:
                entry["patch"] = "\n".join(lines)
            changes.append(entry)
        return changes

    def content_json(self, repo: Repository, path: str, entry: Entry, ref: str, sha: str) -> Json:
        """A contents entry (file or dir) without the file content itself."""
        api, web = self.repo_url(repo), f"{self.web_url}/{repo.full_name}"
        kind = "dir" if entry.type == "tree" else "file"
        size = repo.store.size(entry.sha) if kind == "file" else 0
        self_url = f"{api}/contents/{quote(path)}?ref={quote(ref, safe='')}"
        git_url = f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}"
        html_url = f"{web}/{'tree' if kind == 'dir' else 'blob'}/{quote(ref)}/{quote(path)}"
        return {"name": path.rsplit("/", 1)[-1], "path": path, "sha": entry.sha, "size": size, "url": self_url,
                "html_url": html_url, "git_url": git_url,
                "download_url": f"http://{self.host}:{self.port}/_raw/{repo.full_name}/{sha}/{quote(path)}"
                if kind == "file" else None,
                "type": kind, "_links": {"self": self_url, "git": git_url, "html": html_url}}

    def pull_json(self, repo: Repository, pr: PullRequest, full: bool = True) -> Json:
        """A pull request; ``full`` adds mergeability and diff stats as the single-PR endpoint does."""
        api, web = self.repo_url(repo), f"{self.web_url}/{repo.full_name}"
        head_sha = pr.head_sha or repo.branches.get(pr.head, "")
        base_sha = repo.branches[pr.base]

        def part(ref: str, sha: str) -> Json:
            return {"label": f"{repo.owner}:{ref}", "ref": ref, "sha": sha, "user": self.user_json(repo.owner),
                    "repo": self.repo_json(repo, None)}

        url = f"{api}/pulls/{pr.number}"
        data: Json = {
            "url": url, "id": pr.id, "node_id": node("PR", pr.id), "html_url": f"{web}/pull/{pr.number}",
            "diff_url": f"{web}/pull/{pr.number}.diff", "patch_url": f"{web}/pull/{pr.number}.patch",
            "issue_url": f"{api}/issues/{pr.number}", "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments", "comments_url": f"{api}/issues/{pr.number}/comments",
            "statuses_url": f"{api}/statuses/{head_sha}", "number": pr.number, "state": pr.state, "locked": False,
            "title": pr.title, "user": self.user_json(pr.user), "body": pr.body, "labels": [], "milestone": None,
            "created_at": iso(pr.created_at), "updated_at": iso(pr.updated_at or pr.created_at),
            "closed_at": iso(pr.closed_at) if pr.closed_at else None,
            "merged_at": iso(pr.merged_at) if pr.merged_at else None, "merge_commit_sha": pr.merge_commit_sha,
            "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [], "draft": pr.draft,
            "head": part(pr.head, head_sha), "base": part(pr.base, base_sha),
            "author_association": "OWNER" if pr.user == repo.owner else "COLLABORATOR",
        }
        if full:
            merged = merge_tree(repo, base_sha, head_sha) if pr.state == "open" and head_sha else None
            mb = merge_base(repo, base_sha, head_sha) if head_sha else None
            changes = self.file_changes(repo, repo.store.commits[mb].tree, repo.store.commits[head_sha].tree,
                                        head_sha) if mb and head_sha else []
            ahead = [s for s in repo.store.ancestors(head_sha) if s not in repo.store.ancestors(base_sha)] \
                if head_sha and pr.merged_at is None else []
            mergeable = None if pr.state != "open" else merged is not None
            data |= {"merged": pr.merged_at is not None, "mergeable": mergeable,
                     "rebaseable": merged is not None, "mergeable_state": "clean" if merged is not None else "dirty",
                     "merged_by": self.user_json(pr.merged_by) if pr.merged_by else None, "comments": 0,
                     "review_comments": 0, "maintainer_can_modify": False, "commits": len(ahead),
                     "additions": sum(f["additions"] for f in changes),
                     "deletions": sum(f["deletions"] for f in changes), "changed_files": len(changes)}
        return data

    def page(self, req: Request, items: list[Any]) -> Answer:
        """One page of ``items`` per ``per_page``/``page``, with GitHub's ``Link`` header."""
        per_page = min(100, max(1, _int(req.query.get("per_page"), 30)))
        page = max(1, _int(req.query.get("page"), 1))
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page:page * per_page]

        def link(number: int, rel: str) -> str:
            query = {**req.query, "per_page": str(per_page), "page": str(number)}
            return f'<{self.url}{req.path}?{urlencode(query)}>; rel="{rel}"'

        links = ([link(page - 1, "prev")] if page > 1 else []) + \
                ([link(page + 1, "next"), link(last, "last")] if page < last else []) + \
                ([link(1, "first")] if page > 1 else [])
        return Answer(200, chunk, {"Link": ", ".join(links)} if links else {})
