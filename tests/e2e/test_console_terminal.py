"""The console as a person at a terminal meets it: a real process on a pty, and the loop driven in-process.

On the pty: Ctrl-C and Ctrl-D inside a form cancel the form, not the console; at the prompt they leave;
markup is rendered (bold, code) and a message arriving while the user types keeps the prompt and what was
typed. Piped, the output has no escape code. In-process: buttons under their card keep their numbers when the
message comes back in another order; bad numbers are explained; the console follows its own user's
deployments and messages in the database, wherever the run was claimed, and never another user's.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.console import Console, ConsoleMessenger, console_caller, console_channel
from bot.console_feed import ConsoleFeed
from bot.demo import EXAMPLES, seed
from commands.framework.context import Context
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.handlers import notify
from commands.ui.model import Button, Card, Reply
from commands.views.deployment import result_reply, status_reply
from core.accounts.identity import IdentityKey, find_user
from core.config import Config
from core.conversations import ConversationRef
from core.deployments import queue as run_queue
from core.deployments import service as deployments
from core.deployments.queue import Finished
from core.deployments.status import DeploymentRunStatus
from core.secrets import load_keys
from storage.db import Database
from storage.models import DeployDraft, Deployment, DeploymentRun, Job, JobStatus, Module, utcnow
from tests.support.processes import stop
from tests.support.pty_console import CTRL_D, ROOT, PtyConsole

BOLD, CODE = "\x1b[1m", "\x1b[36m"
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PROMPT = "/rad> "


def console_env(config: Config, tmp_path: Path) -> dict[str, str]:
    """The console process on the test database, with the test's secret key."""
    return {"DATABASE_URL": config.effective_database_url, "RAD_DATA_DIR": str(tmp_path / "console-data"),
            "RAD_SECRET_KEY": ",".join(load_keys(config.secret_keys, config.data_dir)),
            "RAD_SANDBOX_NETWORK": "off", "GITHUB_API_URL": "http://127.0.0.1:9/none"}


@pytest.fixture
def terminal(db: Database, config: Config, tmp_path: Path) -> Iterator[PtyConsole]:
    """``python -m bot console --as ada`` on a pty, at its first prompt."""
    console = PtyConsole(["console", "--as", "ada"], console_env(config, tmp_path))
    try:
        console.expect(PROMPT)
        yield console
    finally:
        console.close()


# -- a real process on a terminal ---------------------------------------------------------------------


def test_ctrl_c_in_a_form_cancels_the_form_and_ctrl_c_at_the_prompt_leaves(terminal: PtyConsole) -> None:
    terminal.send("profile\r")
    terminal.expect("Display name")
    terminal.interrupt()
    cancelled = terminal.expect(PROMPT)
    assert "Cancelled “Your RAD profile”: nothing of this step was sent." in cancelled
    assert "Traceback" not in cancelled and "KeyboardInterrupt" not in cancelled
    terminal.send("whoami\r")
    assert "ada (user" in terminal.expect(PROMPT)  # the console kept running
    terminal.interrupt()
    assert terminal.wait() == 0
    assert "Traceback" not in terminal.output


def test_ctrl_c_works_in_a_console_started_with_interrupts_ignored(db: Database, config: Config,
                                                                  tmp_path: Path) -> None:
    """Started as a background job of a non-interactive shell (SIGINT ignored), Ctrl-C still cancels a form."""
    console = PtyConsole(["console", "--as", "ada"], console_env(config, tmp_path), interrupts_ignored=True)
    try:
        console.expect(PROMPT)
        console.send("profile\r")
        console.expect("Display name")
        console.interrupt()
        assert "Cancelled “Your RAD profile”" in console.expect(PROMPT)
        console.send("quit\r")
        assert console.wait() == 0
    finally:
        console.close()


def test_ctrl_d_in_a_form_cancels_it_and_quit_leaves(terminal: PtyConsole) -> None:
    terminal.send("profile\r")
    terminal.expect("Display name")
    terminal.send("Half typed")  # then end of input on the next field
    terminal.send("\r")
    terminal.expect("[Y/n]")
    terminal.send(CTRL_D)
    assert "Cancelled “Your RAD profile”" in terminal.expect(PROMPT)
    terminal.send("whoami\r")
    shown = terminal.expect(PROMPT)
    assert "ada (user" in shown and "Half typed" not in shown  # nothing of the cancelled step was saved
    terminal.send("quit\r")
    assert terminal.wait() == 0


def test_a_deploy_form_left_with_ctrl_c_is_offered_again_resume_or_start_again(
    terminal: PtyConsole, dispatcher: Dispatcher, db: Database
) -> None:
    seed(db, dispatcher.services, console_caller("ada"))
    terminal.send("deploy budget-alerts\r")
    terminal.expect("monthly budget (optional) [100]: ")
    terminal.send("250\r")
    terminal.expect("(end with an empty line):\r\n  ")  # the thresholds, a JSON field, being read
    terminal.interrupt()  # a real SIGINT from the terminal, halfway through the first step
    assert "the answers you gave are kept" in terminal.expect(PROMPT)
    terminal.send("deploy budget-alerts\r")
    offer = terminal.expect("[2] Start again")
    assert "You left a form to deploy" in offer and "at step 1 of 2" in offer and "[1] Resume" in offer
    terminal.send("1\r")
    terminal.expect("monthly budget (optional) [250]: ")  # resumed with the answer given before
    terminal.interrupt()
    terminal.expect(PROMPT)
    terminal.send("deploy budget-alerts\r")
    terminal.expect("[2] Start again")
    terminal.send("2\r")
    fresh = terminal.expect("monthly budget (optional) [")
    assert terminal.expect("]: ") == "100]: " and "Traceback" not in fresh  # started again: the default
    terminal.interrupt()
    terminal.expect(PROMPT)
    terminal.send("quit\r")
    assert terminal.wait() == 0 and "Traceback" not in terminal.output
    with db.unit_of_work() as session:
        assert [d.values for d in session.scalars(select(DeployDraft))] == [{}]  # the kept answers are gone


def test_markup_is_rendered_for_the_terminal_and_help_says_how_to_leave(terminal: PtyConsole) -> None:
    terminal.send("help\r")
    shown = terminal.expect(PROMPT)
    assert f"{BOLD}RAD commands you can use" in shown and "*RAD commands you can use*" not in shown
    assert f"{CODE}quit" in shown and "`quit`" not in shown
    assert f"{CODE}/rad whoami" in shown


def test_a_message_arriving_while_typing_keeps_the_prompt_and_the_typing(
    terminal: PtyConsole, db: Database
) -> None:
    terminal.send("who")
    terminal.expect("who")
    with db.unit_of_work() as session:
        notify.post_later(session, "test-dm", ":moneybag: 5 credits arrived", user=IdentityKey("console", "", "ada"))
    arrived = terminal.expect("5 credits arrived")
    assert "\x1b[2K📬 To @ada:" in arrived  # the prompt line was erased before the message, not written over
    assert f"{PROMPT}who" in terminal.expect(f"{PROMPT}who")  # drawn again below it, with what was typed
    terminal.send("ami\r")
    assert "ada (user" in terminal.expect(PROMPT)  # readline still had "who": the line ran as whoami
    with db.unit_of_work() as session:
        row = session.scalars(select(Job).where(Job.kind == notify.POST_KIND)).one()
        assert row.status == JobStatus.DONE and row.payload["sent"]


def test_piped_output_has_no_escape_codes(db: Database, config: Config, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "console", "--as", "ada"], cwd=ROOT,
                            env={**console_env(config, tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                                 "TERM": "xterm-256color"},
                            input="help\nprofile\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "*RAD commands you can use*" in result.stdout and "Type `quit`" in result.stdout
    assert "Cancelled “Your RAD profile”" in result.stdout  # end of input inside the form cancels it


# -- buttons ------------------------------------------------------------------------------------------


def sorting_dispatcher(dispatcher: Dispatcher, pressed: list[str]) -> Dispatcher:
    """The real registry plus a two-card list whose Flip button shows it again in the other order."""
    registry = dispatcher.registry.copy()

    def cards(order: tuple[str, ...]) -> tuple[Card, ...]:
        return tuple(Card(name, actions=(Button(f"Open {name}", "test:open", name),)) for name in order)

    @registry.command("test cards", "Two cards")
    def show(ctx: Context) -> Reply:
        return Reply(text="Two cards", cards=cards(("alpha", "beta")), actions=(Button("Flip", "test:flip"),))

    @registry.action("test:flip")
    def flip(ctx: Context, event: ActionEvent) -> Reply:
        return Reply(text="Sorted the other way", cards=cards(("beta", "alpha")),
                     actions=(Button("Flip", "test:flip"), Button("New", "test:open", "new"))).replacing()

    @registry.action("test:open")
    def open_card(ctx: Context, event: ActionEvent) -> Reply:
        pressed.append(event.value)
        return Reply(text=f"Opened {event.value}")

    return Dispatcher(registry, dispatcher.db, dispatcher.config, services=dispatcher.services)


def scripted(dispatcher: Dispatcher, tmp_path: Path, answers: list[str], identity: str = "console:ada",
             ) -> tuple[Console, io.StringIO]:
    lines = iter(answers)
    out = io.StringIO()
    console = Console(dispatcher, console_caller(identity), tmp_path / "files", read=lambda _prompt: next(lines),
                      read_secret=lambda _prompt: next(lines), out=out)
    return console, out


def test_buttons_sit_under_their_card_and_keep_their_numbers_when_the_list_resorts(
    dispatcher: Dispatcher, tmp_path: Path
) -> None:
    pressed: list[str] = []
    script = ["test cards", "3", "2", "test cards", "9", "two", "1", "quit"]
    console, out = scripted(sorting_dispatcher(dispatcher, pressed), tmp_path, script)
    console.loop()
    text = out.getvalue()
    first = text.index("Two cards")
    assert text.index("── alpha", first) < text.index("[1] Open alpha") < text.index("── beta") \
        < text.index("[2] Open beta") < text.index("[3] Flip")
    resorted = text.index("Sorted the other way")
    assert text.index("── beta", resorted) < text.index("[2] Open beta", resorted) \
        < text.index("── alpha", resorted) < text.index("[1] Open alpha", resorted)
    assert "[3] Flip" in text[resorted:] and "[4] New" in text[resorted:]  # new buttons take unused numbers
    assert "There is no button 9 here: type 1-3, or press Enter to skip." in text
    assert "`two` is not a number: type 1-3, or press Enter to skip." in text
    assert pressed == ["beta", "alpha"]  # 2 meant beta in both orders; 1 alpha after 9 and two were refused


def test_ctrl_c_at_a_choice_goes_back_to_the_prompt(dispatcher: Dispatcher, tmp_path: Path) -> None:
    pressed: list[str] = []
    answers = iter(["test cards"])

    def read(prompt: str) -> str:
        if prompt.startswith("Choose"):
            raise KeyboardInterrupt
        return next(answers, "quit")

    out = io.StringIO()
    console = Console(sorting_dispatcher(dispatcher, pressed), console_caller("ada"), tmp_path, read=read, out=out)
    console.loop()
    assert pressed == [] and out.getvalue().count("Two cards") == 1


def test_ctrl_c_in_a_later_deploy_step_keeps_the_draft_of_the_earlier_ones(
    dispatcher: Dispatcher, db: Database, tmp_path: Path
) -> None:
    seed(db, dispatcher.services, console_caller("ada"))
    answers = iter(["deploy budget-alerts", "250", ""])  # step 1: the budget, then an empty JSON for thresholds
    prompts: list[str] = []

    def read(prompt: str) -> str:
        prompts.append(prompt)
        if prompt.lower().startswith("alert channel"):  # in step 2
            raise KeyboardInterrupt
        return next(answers, "quit")

    out = io.StringIO()
    console = Console(dispatcher, console_caller("ada"), tmp_path, read=read, out=out)
    console.loop()
    text = out.getvalue()
    assert "(step 2 of 2)" in text
    assert "✖ Cancelled “Deploy budget-alerts”: nothing of this step was sent. What earlier steps saved is kept." \
        in text
    assert prompts[-1] == "/rad> "  # back at the prompt (then it read quit), not out of the console
    with db.unit_of_work() as session:
        draft = session.scalars(select(DeployDraft)).one()
        assert draft.step == 1 and str(draft.values["monthly_budget"]) == "250"
        assert session.scalars(select(Deployment)).first() is None


# -- help ---------------------------------------------------------------------------------------------


def test_help_admin_lists_the_admin_subcommands(dispatcher: Dispatcher, db: Database, tmp_path: Path) -> None:
    console, out = scripted(dispatcher, tmp_path, ["help admin", "quit"], identity="slack:T1:UADMIN")
    console.loop()
    text = out.getvalue()
    assert "*`/rad admin` commands you can use*" in text
    for name in ("admin grant", "admin revoke", "admin users", "admin connect"):
        assert f"`/rad {name}" in text, name
    assert "There is no command" not in text
    plain, plain_out = scripted(dispatcher, tmp_path, ["help admin", "help", "quit"], identity="console:nobody")
    plain.loop()
    assert "The `/rad admin` commands are for finance and admins." in plain_out.getvalue()
    assert "Type `quit` (or press Ctrl-D) to leave the console." in plain_out.getvalue()
    slack_help = dispatcher.run_text(console_caller("slack:T1:UADMIN"), "help")
    assert isinstance(slack_help, Reply) and "quit" not in slack_help.text  # only the console can be left


# -- following the database ---------------------------------------------------------------------------


def queued_deployment(dispatcher: Dispatcher, db: Database, who: str, module_name: str = "budget-alerts") -> str:
    """A CREATE of ``module_name`` queued by ``who`` from their console; its short id."""
    caller = console_caller(who)
    dispatcher.run_text(caller, "whoami")
    with db.unit_of_work() as session:
        user = find_user(session, caller.key)
        module = session.scalars(select(Module).where(Module.name == module_name)).first()
        assert user is not None and module is not None
        made = deployments.create(session, dispatcher.services.secrets, user, module, {}, {}, f"test-{who}",
                                  utcnow(), ConversationRef("console", channel=console_channel(caller.key)))
        return made.short_id


def claim_elsewhere(db: Database) -> list[int]:
    """Claim every queued run as a worker of another process would; the runs' ids."""
    claimed = []
    with db.unit_of_work() as session:
        while (run := run_queue.claim_run(session, "another-process", utcnow())) is not None:
            claimed.append(run.id)
    return claimed


def test_the_console_follows_its_own_deployments_wherever_they_run(
    dispatcher: Dispatcher, db: Database, tmp_path: Path
) -> None:
    seed(db, dispatcher.services, console_caller("ada"))
    console, out = scripted(dispatcher, tmp_path, [])
    feed = ConsoleFeed(console, db)
    mine, theirs = queued_deployment(dispatcher, db, "ada"), queued_deployment(dispatcher, db, "bob")
    feed.poll()
    assert out.getvalue() == ""  # how things were when the console started is not news
    runs = claim_elsewhere(db)
    feed.poll()
    feed.poll()
    assert out.getvalue() == f"Deploying budget-alerts · {mine}: ⚙️ working\n"  # one line, once
    with db.unit_of_work() as session:
        for run_id in runs:
            run_queue.finish_run(session, run_id, Finished(DeploymentRunStatus.SUCCESS, outputs={"channel": "email"},
                                                           log="Apply complete! Resources: 1 added."), utcnow())
    feed.poll()
    feed.poll()
    text = out.getvalue()
    assert text.count(f"@ada budget-alerts `{mine}`: ✅ success.") == 1
    assert "── Outputs\n  channel: " in text and "email" in text
    log_file = tmp_path / "files" / f"deployment-{mine}.log"
    assert log_file.read_text() == "Apply complete! Resources: 1 added." and str(log_file) in text
    assert theirs not in text  # bob's deployment moved the same way, and ada's console never saw it


def test_the_console_workers_messenger_shows_only_its_users_steps_once(
    dispatcher: Dispatcher, db: Database, tmp_path: Path
) -> None:
    seed(db, dispatcher.services, console_caller("ada"))
    console, out = scripted(dispatcher, tmp_path, [])
    messenger = ConsoleMessenger(console)
    mine, theirs = queued_deployment(dispatcher, db, "ada"), queued_deployment(dispatcher, db, "bob")
    claim_elsewhere(db)
    with db.unit_of_work() as session:
        cards = {d.short_id: (d, ConversationRef("console", channel=d.chat_channel))
                 for d in session.scalars(select(Deployment))}
        replies = {short: [status_reply(d, "@x", progress=step) for step in ("plan: running", "plan: running",
                                                                             "apply: running")]
                   for short, (d, _) in cards.items()}
        results = {short: result_reply(d, "@x", "", "", "log") for short, (d, _) in cards.items()}
    for short, (_, where) in cards.items():
        posted = messenger.post(where, replies[short][0])
        for reply in replies[short][1:]:
            messenger.edit(posted, reply)
        messenger.post(posted.in_thread(posted.message), results[short])
    lines = out.getvalue().splitlines()
    assert lines == [f"Deploying budget-alerts · {mine}: plan: running",
                     f"Deploying budget-alerts · {mine}: apply: running"]
    assert theirs not in out.getvalue()
    with pytest.raises(LookupError):
        messenger.notify(IdentityKey("console", "", "bob"), Reply(text="for bob"))


def test_messages_for_the_console_user_are_delivered_and_others_left(
    dispatcher: Dispatcher, db: Database, tmp_path: Path
) -> None:
    console, out = scripted(dispatcher, tmp_path, [])
    feed = ConsoleFeed(console, db)
    with db.unit_of_work() as session:
        notify.post_later(session, "to-ada", "Your credits arrived", user=IdentityKey("console", "", "ada"))
        notify.post_later(session, "to-bob", "Bob's secret news", user=IdentityKey("console", "", "bob"))
        failed = notify.post_later(session, "to-ada-failed", "Missed while away",
                                   user=IdentityKey("console", "", "ada"))
        failed.status, failed.attempts = JobStatus.FAILED, 3  # no worker could print it while ada was away
        failed.created_at = utcnow() - timedelta(hours=1)
    feed.poll()
    feed.poll()
    text = out.getvalue()
    assert text.count("📬 To @ada:\nYour credits arrived") == 1 and "Missed while away" in text
    assert "Bob" not in text
    with db.unit_of_work() as session:
        rows = {r.payload["key"]: r for r in session.scalars(select(Job))}
        assert rows["to-ada"].status == JobStatus.DONE and rows["to-ada"].payload["sent"]["platform"] == "console"
        assert rows["to-bob"].status == JobStatus.QUEUED and "sent" not in rows["to-bob"].payload


def test_a_run_of_another_process_is_shown_in_the_console_process(
    dispatcher: Dispatcher, db: Database, config: Config, tmp_path: Path
) -> None:
    """The console as a real process; the run is claimed and finished by another process (this one)."""
    seed(db, dispatcher.services, console_caller("ada"))
    mine, theirs = queued_deployment(dispatcher, db, "ada"), queued_deployment(dispatcher, db, "bob")
    runs = claim_elsewhere(db)  # before the console starts, so its own worker cannot take them
    console = PtyConsole(["console", "--as", "ada"], console_env(config, tmp_path))
    try:
        console.expect(PROMPT)
        with db.unit_of_work() as session:
            for run_id in runs:
                run_queue.finish_run(session, run_id, Finished(DeploymentRunStatus.FAILURE, error="quota exceeded",
                                                               log="Error: quota exceeded"), utcnow())
        shown = console.expect("quota exceeded")
        assert mine in shown and "❌ failure" in shown
        console.send("whoami\r")
        console.expect(PROMPT)
        assert theirs not in console.output
        with db.unit_of_work() as session:
            statuses = {r.status for r in session.scalars(select(DeploymentRun))}
        assert statuses == {DeploymentRunStatus.FAILURE}
    finally:
        console.close()


def test_a_deploy_from_the_console_prints_one_line_per_step_not_the_card(
    dispatcher: Dispatcher, db: Database, config: Config, tmp_path: Path
) -> None:
    """The console process runs the deployment itself (its own worker, real Terraform in the sandbox)."""
    seed(db, dispatcher.services, console_caller("ada"))
    console = PtyConsole(["console", "--as", "ada"], console_env(config, tmp_path))
    try:
        console.expect(PROMPT)
        console.send("deploy budget-alerts\r")
        for _ in range(30):  # Enter keeps every default, step by step, up to the confirmation's buttons
            console.settle(0.7)
            if "Choose a number" in console.output[-200:]:
                break
            console.send("\r")
        buttons = dict((label.strip(), number) for number, label in
                       re.findall(r"\[(\d+)\] ([^\r\n]*)", console.output[console.output.rindex("── Deploy"):]))
        console.send(f"{buttons['Confirm']}\r")
        short = re.search(r"Deployment (\w+) of", ESCAPE.sub("", console.expect("is queued")))
        assert short is not None
        result = console.expect("✅ success.", timeout=180)
        title = f"Deploying budget-alerts · {short.group(1)}"
        for step in ("⚙️ working", "init: running", "plan: running", "apply: running", "apply: done"):
            assert result.count(f"{title}: {step}\r\n") == 1, step
        assert "── Deploying" not in result and "Credit cost" not in result  # never the whole card again
        assert f"{PROMPT}\x1b" not in result.replace(f"{PROMPT}\r\x1b[2K", "")  # each line drawn above the prompt
        console.send("quit\r")
        assert console.wait() == 0
    finally:
        console.close()


SLOW_MODULE = """
variable "module_description" {
  type    = string
  default = "Takes a few seconds"
}

resource "terraform_data" "slow" {
  input = "slow"
  provisioner "local-exec" {
    command = "sleep 6"
  }
}
"""


def deployment_status(db: Database, short: str) -> str:
    with db.unit_of_work() as session:
        return str(session.scalars(select(Deployment.status).where(Deployment.short_id == short)).one())


def wait_until(check: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_run_claimed_by_a_separate_worker_process_is_shown_and_another_users_never(
    dispatcher: Dispatcher, db: Database, config: Config, tmp_path: Path
) -> None:
    """``python -m bot worker`` runs ada's deployment; bob's is queued while that worker is busy, so ada's console
    process (free first) or the worker runs it: either way ada's console shows only hers."""
    modules = tmp_path / "modules"
    shutil.copytree(EXAMPLES, modules)
    (modules / "slow-step").mkdir()
    (modules / "slow-step" / "main.tf").write_text(SLOW_MODULE)
    seed(db, dispatcher.services, console_caller("ada"), modules)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **console_env(config, tmp_path),
           "RAD_DATA_DIR": str(tmp_path / "worker-data")}
    worker = subprocess.Popen([sys.executable, "-m", "bot", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    console: PtyConsole | None = None
    try:
        mine = queued_deployment(dispatcher, db, "ada", "slow-step")
        wait_until(lambda: deployment_status(db, mine) == "WORKING", "the worker process to claim ada's run")
        theirs = queued_deployment(dispatcher, db, "bob")
        console = PtyConsole(["console", "--as", "ada"], console_env(config, tmp_path))
        console.expect(PROMPT)
        shown = console.expect("✅ success.", timeout=120)
        assert f"budget-alerts `{theirs}`" not in shown and "slow-step" in shown and mine in shown
        wait_until(lambda: deployment_status(db, theirs) == "SUCCESS", "bob's run")
        console.send("whoami\r")
        console.expect(PROMPT)
        console.settle(1.5)  # the feed's next polls, had it anything of bob's to say
        assert theirs not in console.output
    finally:
        if console is not None:
            console.close()
        stop(worker, 20)
