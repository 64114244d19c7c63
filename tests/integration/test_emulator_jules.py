"""The Jules emulator, on the wire and through core.jules.client."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

import pytest
import requests

from core.config import Config
from core.errors import Conflict, InvalidInput, NotFound, RadError
from core.jules.client import JulesClient, JulesUnavailable
from tests.emulators.jules import JulesEmulator, Script, running

SOURCE = "sources/github/acme-partner/terraform-aws-vpc"


@pytest.fixture
def jules() -> Iterator[JulesEmulator]:
    with running(seed=7) as emulator:
        emulator.add_source("acme-partner/terraform-aws-vpc", branches=("main", "develop"))
        yield emulator


@pytest.fixture
def key(jules: JulesEmulator) -> str:
    return jules.add_key()


@pytest.fixture
def client(jules: JulesEmulator, key: str) -> Iterator[JulesClient]:
    with JulesClient.from_config(Config(jules_api_url=jules.url), key, backoff=0.01, max_backoff=0.5) as c:
        yield c


def get(jules: JulesEmulator, key: str, path: str, **params: str) -> requests.Response:
    return requests.get(f"{jules.url}/{path}", params=params, headers={"X-Goog-Api-Key": key}, timeout=5)


# -- the wire format ----------------------------------------------------------------------------------------

def test_sources_are_paged_with_page_tokens(jules: JulesEmulator, key: str, client: JulesClient) -> None:
    for n in range(44):
        jules.add_source(f"acme-partner/module-{n:02d}")
    first = get(jules, key, "sources").json()
    assert len(first["sources"]) == 30 and first["nextPageToken"]
    last = get(jules, key, "sources", pageToken=first["nextPageToken"]).json()
    assert len(last["sources"]) == 15 and "nextPageToken" not in last

    sources = client.list_sources()
    assert len(sources) == 45 and len({s.name for s in sources}) == 45
    assert len(jules.calls("/sources", "GET")) == 2 + 1  # 100 per page for the client
    vpc = client.get_source("acme-partner/terraform-aws-vpc")
    assert (vpc.name, vpc.owner, vpc.private, vpc.default_branch, vpc.branches) == (
        SOURCE, "acme-partner", True, "main", ("main", "develop"))
    filtered = get(jules, key, "sources", filter=f"name={SOURCE} OR name=sources/github/none/x").json()
    assert [s["name"] for s in filtered["sources"]] == [SOURCE]


def test_errors_use_the_google_rpc_status_envelope(jules: JulesEmulator, key: str) -> None:
    missing = get(jules, key, "sessions/123")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": 404, "message": "Requested entity was not found.",
                                        "status": "NOT_FOUND"}}
    bad_param = get(jules, key, "sessions/123/activities", createTime="2026-01-01T00:00:00Z")
    assert bad_param.status_code == 400 and bad_param.json()["error"]["status"] == "INVALID_ARGUMENT"
    no_key = requests.get(f"{jules.url}/sources", timeout=5)
    assert no_key.status_code == 401 and no_key.json()["error"]["status"] == "UNAUTHENTICATED"
    unknown_field = requests.post(f"{jules.url}/sessions", json={"prompt": "x", "foo": 1}, timeout=5,
                                  headers={"X-Goog-Api-Key": key})
    assert unknown_field.status_code == 400 and 'Unknown name "foo"' in unknown_field.json()["error"]["message"]


# -- a session's lifecycle ---------------------------------------------------------------------------------

def test_session_lifecycle_plan_approve_complete_with_pull_request(jules: JulesEmulator,
                                                                   client: JulesClient) -> None:
    jules.lag_after_create = 1
    session = client.create_session("Add an optional NAT gateway to modules/vpc.", SOURCE, title="VPC: NAT")
    assert (session.state, session.title, session.starting_branch) == ("QUEUED", "VPC: NAT", "main")
    assert re.fullmatch(r"\d{19}", session.id)
    assert client.get_session(session.id).id == session.id
    assert [c.status for c in jules.calls(f"/sessions/{session.id}")] == [404, 200]

    assert jules.advance(session.id) == "PLANNING"
    assert jules.advance(session.id) == "AWAITING_PLAN_APPROVAL"
    activities = client.list_activities(session.id)
    assert [a.kind for a in activities] == ["agentMessaged", "planGenerated"]
    plan = activities[-1]
    assert [s.index for s in plan.plan_steps] == [0, 1, 2] and plan.plan_id
    assert "index" not in jules.session(session.id).activities[-1]["planGenerated"]["plan"]["steps"][0]
    assert client.get_session(session.id).state == "AWAITING_PLAN_APPROVAL"

    client.approve_plan(session.id)
    cursor = plan.create_time
    assert jules.run(session.id, "COMPLETED") == "COMPLETED"
    new = client.list_activities(session.id, after=cursor)
    assert [a.kind for a in new] == ["planApproved", "progressUpdated", "progressUpdated", "sessionCompleted"]
    assert new[0].plan_id == plan.plan_id and new[0].originator == "user"
    assert "terraform validate" in new[2].progress_description
    assert "changeSet" in new[-1].artifacts[0]
    assert client.list_activities(session.id, after=new[-1].create_time) == []

    done = client.get_session(session.id)
    assert done.state == "COMPLETED" and len(done.pull_requests) == 1
    pull = done.pull_requests[0]
    assert pull.url == "https://github.com/acme-partner/terraform-aws-vpc/pull/1"
    assert (pull.base_ref, pull.head_ref) == ("main", f"jules/session-{session.id}")
    with pytest.raises(Conflict, match="no plan awaiting approval"):
        client.approve_plan(session.id)


def test_agent_question_and_answer(jules: JulesEmulator, client: JulesClient) -> None:
    jules.script = Script(question="One NAT gateway per AZ, or a single shared one?", reply="One per AZ it is.")
    session = client.create_session("Add a NAT gateway", SOURCE, require_plan_approval=False)
    assert jules.run(session.id, "COMPLETED") == "AWAITING_USER_FEEDBACK"
    question = client.list_activities(session.id)[-1]
    assert (question.kind, question.message) == ("agentMessaged", "One NAT gateway per AZ, or a single shared one?")
    client.send_message(session.id, "One per AZ, please.")
    assert client.list_activities(session.id)[-1].message == "One per AZ, please."
    assert jules.run(session.id, "COMPLETED") == "COMPLETED"
    kinds = [(a.kind, a.originator) for a in client.list_activities(session.id)]
    assert ("planApproved", "user") in kinds and ("agentMessaged", "agent") in kinds


def test_session_delete_and_list(jules: JulesEmulator, key: str, client: JulesClient) -> None:
    first = client.create_session("one", SOURCE)
    second = client.create_session("two", SOURCE)
    listed = get(jules, key, "sessions", pageSize="1").json()
    assert [s["id"] for s in listed["sessions"]] == [second.id] and listed["nextPageToken"]
    client.delete_session(first.id)
    with pytest.raises(NotFound, match="Jules has no session"):
        client.get_session(first.id)


# -- faults and secrets ---------------------------------------------------------------------------------------

def test_429_and_5xx_are_retried(jules: JulesEmulator, client: JulesClient) -> None:
    jules.rate_limit(times=2, retry_delay=0.05)
    jules.fail(times=1, status=503)
    assert len(client.list_sources()) == 1
    assert [c.status for c in jules.calls("/sources")] == [429, 429, 503, 200]


def test_persistent_faults_give_clear_errors(jules: JulesEmulator, client: JulesClient) -> None:
    jules.fail(times=10, status=502)
    with pytest.raises(JulesUnavailable, match="not answering"):
        client.list_sources()
    assert len(jules.calls()) == client.retries + 1
    jules.clear_faults()
    jules.rate_limit(times=1, retry_delay=3600)
    with pytest.raises(JulesUnavailable, match="limiting requests"):
        client.list_sources()


def test_bad_or_revoked_key_gives_a_clear_error(jules: JulesEmulator, key: str, client: JulesClient) -> None:
    with pytest.raises(InvalidInput, match="refused the API key") as caught:
        JulesClient("AIzaNotAKeyOfThisAccount", jules.url, backoff=0.01).list_sources()
    assert "Create a new key" in caught.value.hint
    client.list_sources()
    jules.revoke_key(key)
    with pytest.raises(InvalidInput, match="refused the API key"):
        client.list_sources()
    assert jules.calls()[-1].status == 401
    with pytest.raises(InvalidInput, match="does not look like a Jules API key"):
        JulesClient("AIza secret\n", jules.url)


def test_key_never_in_logs_errors_or_reprs(jules: JulesEmulator, key: str, client: JulesClient,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[RadError] = []
    session = client.create_session("Add outputs", SOURCE)
    client.list_activities(session.id)
    faults: list[Callable[[], None]] = [lambda: jules.fail(times=9),
                                        lambda: jules.rate_limit(times=9, retry_delay=0.01),
                                        lambda: jules.revoke_key(key)]
    for fault in faults:
        jules.clear_faults()
        fault()
        try:
            client.get_session(session.id)
        except RadError as exc:
            errors.append(exc)
    assert len(errors) == 3
    assert "jules GET" in caplog.text  # the client did log at DEBUG
    assert key not in caplog.text
    for error in errors:
        assert key not in f"{error} {error!r} {error.message} {error.hint} {error.__cause__} {error.__context__}"
    assert key not in repr(client) and key not in str(vars(client).get("base_url"))
    assert all(key == call.api_key for call in jules.calls())  # sent as a header, never in the URL
    assert all(key not in call.path and key not in str(call.query) for call in jules.calls())


def test_documented_quirks_and_archive(jules: JulesEmulator, key: str, client: JulesClient) -> None:
    jules.script = Script(completed_while_plan_pending=True)
    quirky = client.create_session("Plan only", SOURCE)
    assert jules.run(quirky.id) == "COMPLETED" and client.get_session(quirky.id).pull_requests == ()
    client.approve_plan(quirky.id)  # the plan was pending although the state said COMPLETED
    assert client.get_session(quirky.id).state == "IN_PROGRESS"

    jules.script = Script(stuck=True)
    stuck = client.create_session("Never ends", SOURCE, require_plan_approval=False)
    assert jules.run(stuck.id, "COMPLETED") == "IN_PROGRESS"

    archive = requests.post(f"{jules.url}/sessions/{stuck.id}:archive", json={}, headers={"X-Goog-Api-Key": key},
                            timeout=5)
    assert archive.status_code == 200 and archive.json() == {}
    assert [s["id"] for s in get(jules, key, "sessions").json()["sessions"]] == [quirky.id]
    assert [s["id"] for s in get(jules, key, "sessions", filter="archived = true").json()["sessions"]] == [stuck.id]
