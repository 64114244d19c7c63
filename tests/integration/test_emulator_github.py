"""The GitHub emulator through the real PyGithub client, and core.repos.github against it."""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from github import Auth, Github
from github.ContentFile import ContentFile
from github.Repository import Repository

from core.config import Config
from core.errors import InvalidInput, NotFound, RadError
from core.repos.github import GitHubClient, GitHubUnavailable, TokenInfo
from tests.emulators.github import GitHubEmulator, LargeFile, object_sha, running

FILES = {"vpc/main.tf": b'resource "aws_vpc" "this" {}\n', "vpc/variables.tf": b'variable "cidr" {}\n',
         "README.md": b"# modules\n"}


@pytest.fixture
def github() -> Iterator[GitHubEmulator]:
    with running() as emulator:
        yield emulator


@pytest.fixture
def token(github: GitHubEmulator) -> str:
    github.add_repo("octo/modules", FILES)
    return github.add_token("octo")


@pytest.fixture
def client(github: GitHubEmulator) -> GitHubClient:
    return GitHubClient(github.url, retries=2, backoff=0.01, max_wait=2, throttle=None)


def pygithub(github: GitHubEmulator, token: str) -> Github:
    return Github(base_url=github.url, auth=Auth.Token(token), retry=None, per_page=100,
                  seconds_between_requests=None, seconds_between_writes=None)


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def read(repo: Repository, path: str, ref: str | None = None) -> bytes:
    content = repo.get_contents(path, ref=ref) if ref else repo.get_contents(path)
    assert isinstance(content, ContentFile)
    return content.decoded_content


# -- tokens ---------------------------------------------------------------------------------------------

def test_classic_token_with_repo_scope(github: GitHubEmulator, token: str, client: GitHubClient) -> None:
    assert client.check_token(token) == TokenInfo("octo", "classic", ("repo", "read:org"))
    response = requests.get(f"{github.url}/user", headers={"Authorization": f"token {token}"}, timeout=5)
    assert response.headers["X-OAuth-Scopes"] == "repo, read:org"


def test_classic_token_without_repo_scope_names_the_scope(github: GitHubEmulator, client: GitHubClient) -> None:
    weak = github.add_token("octo", scopes=("read:org", "gist"))
    with pytest.raises(InvalidInput, match="lacks the `repo` scope") as caught:
        client.check_token(weak)
    assert "`read:org`" in caught.value.message


def test_fine_grained_token_with_contents_access(github: GitHubEmulator, token: str, client: GitHubClient) -> None:
    fine = github.add_fine_grained_token("octo", {"octo/modules": "read"})
    assert client.check_token(fine) == TokenInfo("octo", "fine-grained", ())
    repo = client.check_repository_access(fine, "octo/modules")
    assert (repo.full_name, repo.default_branch, repo.private) == ("octo/modules", "main", True)
    response = requests.get(f"{github.url}/user", headers={"Authorization": f"Bearer {fine}"}, timeout=5)
    assert "X-OAuth-Scopes" not in response.headers


def test_fine_grained_token_without_access(github: GitHubEmulator, token: str, client: GitHubClient) -> None:
    github.add_repo("octo/other", FILES)
    metadata_only = github.add_fine_grained_token("octo", {"octo/modules": "none"})
    with pytest.raises(InvalidInput, match="cannot read the contents of octo/modules"):
        client.check_repository_access(metadata_only, "octo/modules")
    with pytest.raises(NotFound, match="octo/other"):
        client.check_repository_access(metadata_only, "octo/other")


def test_token_revoked_midway(github: GitHubEmulator, token: str, client: GitHubClient) -> None:
    assert client.get_repository(token, "octo/modules").default_branch == "main"
    github.revoke(token)
    with pytest.raises(InvalidInput, match="wrong, expired or revoked") as caught:
        client.list_repositories(token)
    assert "Create a new token" in caught.value.hint
    assert github.calls()[-1].status == 401


def test_malformed_token_is_refused_before_any_request(github: GitHubEmulator, client: GitHubClient) -> None:
    with pytest.raises(InvalidInput, match="does not look like a GitHub token") as caught:
        client.check_token("ghp_secret\nvalue")
    assert "secret" not in str(caught.value)
    assert github.calls() == []


# -- repositories, trees, commits ---------------------------------------------------------------------------

def test_repositories_paged_over_three_pages(github: GitHubEmulator, client: GitHubClient) -> None:
    token = github.add_token("octo")
    for n in range(250):
        github.add_repo(f"octo/mod-{n:03d}", {"main.tf": f"# {n}\n"}, private=n % 2 == 0)
    first, more = client.list_repositories(token, page=1, per_page=100)
    assert (len(first), more, first[0].full_name, first[0].can_push) == (100, True, "octo/mod-000", True)
    last, more = client.list_repositories(token, page=3, per_page=100)
    assert (len(last), more, last[-1].full_name) == (50, False, "octo/mod-249")

    link = requests.get(f"{github.url}/user/repos?per_page=100&page=2", timeout=5,
                        headers={"Authorization": f"token {token}"}).headers["Link"]
    assert f'<{github.url}/user/repos?per_page=100&page=3>; rel="next"' in link
    assert 'page=3>; rel="last"' in link and 'page=1>; rel="prev"' in link and 'page=1>; rel="first"' in link

    github.reset_calls()
    names = [r.full_name for r in pygithub(github, token).get_user().get_repos()]
    assert len(names) == 250 == len(set(names))
    assert github.count("/user/repos") == 3


def test_tree_with_blobs_read_back_with_matching_shas(github: GitHubEmulator, tmp_path: Path) -> None:
    (tmp_path / "vpc").mkdir()
    for path, data in FILES.items():
        (tmp_path / path).write_bytes(data)
    (tmp_path / "hello.txt").write_bytes(b"hello\n")
    (tmp_path / "run.sh").write_bytes(b"#!/bin/sh\n")
    (tmp_path / "run.sh").chmod(0o755)
    github.add_repo("octo/disk", tmp_path)
    repo = pygithub(github, github.add_token("octo")).get_repo("octo/disk")

    tree = repo.get_git_tree(repo.get_branch("main").commit.commit.tree.sha, recursive=True)
    entries = {e.path: e for e in tree.tree}
    assert entries["hello.txt"].sha == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object of "hello\n"
    assert (entries["vpc"].type, entries["vpc"].mode) == ("tree", "040000")
    assert (entries["run.sh"].mode, entries["README.md"].mode) == ("100755", "100644")
    assert tree.raw_data["truncated"] is False
    for path, data in FILES.items():
        assert entries[path].sha == git_blob_sha(data) == object_sha("blob", data)
        assert entries[path].size == len(data)
        blob = repo.get_git_blob(entries[path].sha)
        assert base64.b64decode(blob.content) == data
    assert read(repo, "vpc/main.tf") == FILES["vpc/main.tf"]
    listing = repo.get_contents("vpc")
    assert isinstance(listing, list) and [(c.name, c.type) for c in listing] == [("main.tf", "file"),
                                                                                ("variables.tf", "file")]

    github.max_tree_entries = 2
    assert repo.get_git_tree("main", recursive=True).raw_data["truncated"] is True


def test_a_large_file_is_listed_with_its_real_size_and_sha_without_being_held(github: GitHubEmulator,
                                                                            token: str) -> None:
    remote = github.repo("octo/modules")
    remote.commit({"vpc/huge.tf": LargeFile(3 << 20), "vpc/empty.tf": LargeFile(0)}, "Add large files")
    repo = pygithub(github, token).get_repo("octo/modules")
    entries = {e.path: e for e in repo.get_git_tree("main", recursive=True).tree}
    assert entries["vpc/huge.tf"].size == 3 << 20 and entries["vpc/empty.tf"].size == 0
    assert entries["vpc/huge.tf"].sha == git_blob_sha(bytes(3 << 20))
    assert entries["vpc/empty.tf"].sha == git_blob_sha(b"")
    assert entries["vpc/huge.tf"].sha not in remote.store.blobs  # only its size is kept
    assert base64.b64decode(repo.get_git_blob(entries["vpc/huge.tf"].sha).content) == bytes(3 << 20)
    contents = repo.get_contents("vpc/huge.tf")
    assert isinstance(contents, ContentFile) and contents.size == 3 << 20 and contents.encoding == "none"


def test_a_rate_limit_that_runs_out_after_some_requests(github: GitHubEmulator, token: str) -> None:
    github.exhaust_rate_limit_after("octo", 2, reset_in=600)
    answers = [requests.get(f"{github.url}/repos/octo/modules", headers={"Authorization": f"token {token}"},
                            timeout=5) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 403]
    assert answers[1].headers["X-RateLimit-Remaining"] == "0" and "rate limit exceeded" in answers[2].text
    assert int(answers[2].headers["X-RateLimit-Reset"]) - time.time() > 590
    github.reset_rate_limit("octo")
    again = requests.get(f"{github.url}/repos/octo/modules", headers={"Authorization": f"token {token}"}, timeout=5)
    assert again.status_code == 200 and again.headers["X-RateLimit-Remaining"] == str(github.rate_limit - 1)


def test_commit_moves_the_branch_head(github: GitHubEmulator, token: str) -> None:
    remote = github.repo("octo/modules")
    repo = pygithub(github, token).get_repo("octo/modules")
    before = repo.get_git_ref("heads/main").object.sha
    after = remote.commit({"vpc/main.tf": "# changed\n", "README.md": None}, "Change the VPC")
    assert after != before
    assert repo.get_branch("main").commit.sha == after == repo.get_git_ref("heads/main").object.sha
    commit = repo.get_git_commit(after)
    assert [p.sha for p in commit.parents] == [before] and commit.message == "Change the VPC"
    assert {f.filename: f.status for f in repo.get_commit(after).files} == {"README.md": "removed",
                                                                            "vpc/main.tf": "modified"}
    assert read(repo, "vpc/main.tf", ref=before) == FILES["vpc/main.tf"]
    assert read(repo, "vpc/main.tf") == b"# changed\n"


def test_pull_request_opened_merged_and_closed(github: GitHubEmulator, token: str) -> None:
    remote = github.repo("octo/modules")
    remote.commit({"vpc/nat.tf": "# nat\n"}, "Add NAT", branch="jules/nat")
    remote.commit({"vpc/ipv6.tf": "# ipv6\n"}, "Add IPv6", branch="jules/ipv6")
    repo = pygithub(github, token).get_repo("octo/modules")

    pull = repo.create_pull(title="Optional NAT gateway", body="From Jules", head="jules/nat", base="main")
    assert (pull.number, pull.mergeable, pull.changed_files, pull.head.ref) == (1, True, 1, "jules/nat")
    assert [p.number for p in repo.get_pulls()] == [1]
    result = pull.merge(merge_method="squash")
    assert result.merged and remote.head() == result.sha
    assert "vpc/nat.tf" in remote.files() and repo.get_pull(1).merged

    other = repo.create_pull(title="IPv6", body="", head="jules/ipv6", base="main")
    other.edit(state="closed")
    assert repo.get_pull(other.number).state == "closed"
    assert "vpc/ipv6.tf" not in remote.files()


def test_enterprise_base_url_works_the_same() -> None:
    with running(prefix="/api/v3") as enterprise:
        token = enterprise.add_token("octo")
        enterprise.add_repo("octo/modules", FILES)
        client = GitHubClient.from_config(Config(github_api_url=enterprise.url), throttle=None)
        assert client.get_repository(token, "octo/modules").full_name == "octo/modules"
        assert enterprise.calls()[-1].path == "/repos/octo/modules"


# -- rate limits, ETags, faults ------------------------------------------------------------------------------

def test_etag_answers_304_without_using_the_rate_limit(github: GitHubEmulator, token: str) -> None:
    gh = pygithub(github, token)
    repo = gh.get_repo("octo/modules")
    used = github.bucket("octo").used
    assert repo.update() is False
    assert github.calls()[-1].not_modified and github.calls()[-1].status == 304
    assert github.bucket("octo").used == used

    headers = {"Authorization": f"token {token}", "If-None-Match": repo.etag or ""}
    response = requests.get(f"{github.url}/repos/octo/modules", headers=headers, timeout=5)
    assert response.status_code == 304 and response.content == b""
    assert response.headers["X-RateLimit-Remaining"] == str(5000 - used)
    assert github.count(not_modified=True) == 2


def test_every_answer_carries_rate_limit_headers_and_github_error_shape(github: GitHubEmulator, token: str) -> None:
    for path, auth in (("/repos/octo/missing", token), ("/user", "ghp_unknown")):
        response = requests.get(f"{github.url}{path}", headers={"Authorization": f"token {auth}"}, timeout=5)
        assert response.status_code in (401, 404)
        assert set(response.json()) >= {"message", "documentation_url"}
        for name in ("Limit", "Remaining", "Reset", "Used", "Resource"):
            assert f"X-RateLimit-{name}" in response.headers
    before = github.bucket("octo").used
    rate = pygithub(github, token).get_rate_limit()
    assert rate.resources.core.used == before == github.bucket("octo").used


def test_5xx_retried_then_succeeding(github: GitHubEmulator, token: str, client: GitHubClient) -> None:
    github.fail(times=2, status=502)
    assert client.get_repository(token, "octo/modules").full_name == "octo/modules"
    assert [c.status for c in github.calls("/repos/octo/modules")] == [502, 502, 200]


def test_5xx_persisting_gives_a_clear_error(github: GitHubEmulator, token: str, client: GitHubClient) -> None:
    github.fail(times=10, status=503)
    with pytest.raises(GitHubUnavailable, match="GitHub is not answering"):
        client.get_repository(token, "octo/modules")
    assert len(github.calls()) == client.retries + 1


@pytest.mark.parametrize("status", [403, 429])
def test_primary_rate_limit_gives_the_reset_time(github: GitHubEmulator, token: str, client: GitHubClient,
                                                 status: int) -> None:
    github.primary_status = status
    github.exhaust_rate_limit("octo", reset_in=1800)
    reset = datetime.fromtimestamp(math.ceil(github.bucket("octo").reset / 60) * 60, UTC)
    started = time.monotonic()
    with pytest.raises(GitHubUnavailable, match=f"try again after {reset:%H:%M} UTC") as caught:
        client.get_repository(token, "octo/modules")
    assert time.monotonic() - started < 1.5 and caught.value.retry_at == reset
    response = github.calls()[-1]
    assert response.status == status


def test_secondary_rate_limit_waits_for_retry_after(github: GitHubEmulator, token: str,
                                                    client: GitHubClient) -> None:
    github.secondary_rate_limit(retry_after=1)
    started = time.monotonic()
    assert client.get_repository(token, "octo/modules").full_name == "octo/modules"
    assert time.monotonic() - started >= 0.9
    github.secondary_rate_limit(retry_after=600)
    with pytest.raises(GitHubUnavailable, match="rate limit is reached"):
        client.get_repository(token, "octo/modules")


# -- secrets ----------------------------------------------------------------------------------------------

def test_token_never_in_logs_errors_or_reprs(github: GitHubEmulator, token: str, client: GitHubClient,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("github", "urllib3", "core"):
        caplog.set_level(logging.DEBUG, logger=name)
    errors: list[RadError] = []
    client.check_token(token)
    client.list_repositories(token)
    faults: list[Callable[[], None]] = [lambda: github.fail(times=5),
                                        lambda: github.secondary_rate_limit(retry_after=None),
                                        lambda: github.exhaust_rate_limit("octo", 60), lambda: github.revoke(token)]
    for fault in faults:
        fault()
        try:
            client.get_repository(token, "octo/modules")
        except RadError as exc:
            errors.append(exc)
    assert len(errors) == 4
    assert any("Authorization" in r.getMessage() for r in caplog.records)  # PyGithub logged (masked) headers
    assert token not in caplog.text
    for error in errors:
        assert token not in f"{error} {error!r} {error.message} {error.hint} {error.__cause__} {error.__context__}"
    assert token not in repr(client) and token not in repr(client.check_token) and token not in repr(github)
