"""Runs deployments: claims a queued run, fetches the module at its commit, runs Terraform, reports in chat.

The status message is posted when the run starts and edited in place at each step; when the run ends, a
reply carries the outputs (or the error and the log's tail), the full log as a file, and mentions the owner.
A run that waits for review stops after its plan: the plan is sealed in the database and a reply shows it
(summary, the full plan as a file); Apply and Discard go to the owner in a direct message (the thread is public),
and Retry of a failed create too. Once applied, a later claim applies exactly that plan.
A heartbeat marks the run alive, retrying through a database outage; runs whose worker died are failed by
``fail_abandoned`` once their lease expired, and a run taken away that way is told to stop (``Job.cancel``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select

from bot.run_chat import RunChat
from bot.runtime import Runtime
from commands.framework.messenger import Messenger
from commands.handlers import deployment_notices as notices
from commands.views.deployment import result_reply, status_reply
from commands.views.review import no_change_reply, review_reply
from core.config import Config
from core.conversations import ConversationRef
from core.deployments import pending, review
from core.deployments import queue as run_queue
from core.deployments import service as deployments
from core.deployments.queue import Finished
from core.deployments.source import pinned_files
from core.deployments.state import DatabaseStateStore, import_legacy_state
from core.deployments.status import DeploymentAction, DeploymentRunStatus, DeploymentStatus
from core.errors import RadError
from core.incidents import report
from core.modules import policy as module_policy
from core.modules.inputs import sensitive_names
from core.modules.spec import load_spec
from core.queue import DEPLOYMENT_RUNS
from core.queue.loop import serve
from core.queue.wake import Waker
from core.settings.platform import provisioners_allowed
from core.terraform.engine import find_engine
from core.terraform.launch import Terraform, terraform_for
from core.terraform.output import PlanSummary
from core.terraform.runner import Action, Phase, Progress, run
from core.terraform.workdir import remove_abandoned, run_directory
from storage.db import again_if_lost
from storage.models import Deployment, DeploymentRun, utcnow

log = logging.getLogger(__name__)
BEAT_SECONDS = 20.0


@dataclass
class Job:
    """What a claimed run needs, read in one short transaction."""

    run_id: int
    action: DeploymentAction
    deployment_id: int
    short_id: str
    values: dict[str, Any]
    sensitive_names: set[str]
    allow_provisioners: bool
    deployment: Deployment | None = field(default=None, repr=False)
    """The deployment as claimed (detached): what the status message shows while the run goes on."""
    mention: str = "someone"
    """The owner as the deployment's chat platform mentions them, read once at the claim."""
    chat: RunChat | None = field(default=None, repr=False)
    """Posts the run's messages from a thread of its own, so the run never waits on chat."""
    where: ConversationRef | None = None
    """Where the status message goes (its channel, and the message once it is posted)."""
    cancel: threading.Event = field(default_factory=threading.Event)
    """Set by the heartbeat when the run is no longer this worker's: the Terraform command must stop."""
    phase: Phase = "all"
    """``plan`` when the plan waits for review, ``apply`` when a reviewed plan is applied, else ``all``."""
    saved_plan: bytes | None = field(default=None, repr=False)
    planned_on: review.StateVersion | None = None
    """The state the reviewed plan was made on: applying it on another state is refused."""


@dataclass(frozen=True)
class Planned:
    """A plan phase that ended with a plan to review (it changes something)."""

    summary: PlanSummary
    saved_plan: bytes = field(repr=False)
    text: str
    log: str
    version: review.StateVersion


def default_terraform(config: Config) -> Terraform:
    """How runs start Terraform: the configured engine in the configured sandbox."""
    return terraform_for(config, engine=find_engine(config))


class DeployWorker:
    """One claiming loop over deployment runs; several can share a database."""

    beat_seconds: float = BEAT_SECONDS
    """How often a running run's lease is renewed (well inside ``run_queue.HEARTBEAT_LEASE``)."""

    def __init__(self, runtime: Runtime, messengers: dict[str, Messenger], *, name: str = "",
                 clock: Callable[[], datetime] = utcnow,
                 terraform: Callable[[Config], Terraform] | None = None) -> None:
        self.runtime, self.messengers, self.clock = runtime, messengers, clock
        self.name = name or f"deploy-{uuid.uuid4().hex[:8]}"
        self.terraform = terraform or default_terraform

    def run_once(self) -> bool:
        """Claim and run one queued run; False when none was queued.

        What the run needs is read once, at the claim; its chat messages are posted by a thread of their own
        (:class:`RunChat`) while it runs, and the last of them before this returns.
        """
        job = self._claim()
        if job is None:
            return False
        job.chat = RunChat(self.runtime.db, self.messengers, job.deployment_id, job.where, name=f"chat-{job.run_id}")
        try:
            self._post_status(job, "starting")
            stop_beating, job.cancel = self._heartbeat(job.run_id)
            try:
                finished = self._execute(job)
            finally:
                stop_beating.set()
            chat = job.chat  # the run's end is recorded even across a database restart (both steps are idempotent)
            if isinstance(finished, Planned):
                return again_if_lost(lambda: self._review(job, chat, finished), "plan review")
            again_if_lost(lambda: self._record(job, chat, finished), "run end")
        finally:
            job.chat.close()
        return True

    def _record(self, job: Job, chat: RunChat, finished: Finished) -> None:
        """Record the run's end, then hand its final status and result to the chat thread."""
        with self.runtime.db.unit_of_work() as session:
            deployment = run_queue.finish_run(session, job.run_id, finished, self.clock())
            reply = result_reply(deployment, job.mention, finished.error,
                                 "\n".join(finished.log.splitlines()[-40:]), finished.log)
            if finished.plan == review.NO_CHANGES and finished.status == DeploymentRunStatus.SUCCESS:
                reply = no_change_reply(deployment, job.mention)
            final = status_reply(deployment, job.mention, plan=finished.plan)
            notices.offer_retry(session, deployment, job.run_id)  # the owner's Retry, privately
            if deployment.action == DeploymentAction.CREATE and deployment.status == DeploymentStatus.SUCCESS:
                notices.created_since(session, deployment)  # earlier Retry offers have nothing left to retry
        chat.status(final)
        chat.reply(reply)

    def _review(self, job: Job, chat: RunChat, planned: Planned) -> bool:
        """Park the planned run: the plan (summary, file) in the thread, Apply and Discard to the owner privately."""
        box = self.runtime.dispatcher.services.secrets
        with self.runtime.db.unit_of_work() as session:
            deployment = review.planned(session, box, job.run_id, planned.saved_plan, planned.summary.text,
                                        planned.log, planned.version, self.clock())
            if deployment is None:  # failed as abandoned meanwhile: its end was reported then
                return True
            run = session.get_one(DeploymentRun, job.run_id)
            shown = review_reply(deployment, run, job.mention, planned.summary, planned.text)
            notices.offer_review(session, deployment, run)  # Apply and Discard, to the owner only
            final = status_reply(deployment, job.mention, progress="waiting for review", plan=planned.summary.text)
        chat.status(final)
        chat.reply(shown)
        return True

    def _claim(self) -> Job | None:
        """Fail the abandoned runs, claim one, and read everything its run needs, in one transaction."""
        db, box = self.runtime.db, self.runtime.dispatcher.services.secrets
        with db.unit_of_work() as session:
            for short in run_queue.fail_abandoned(session, self.clock()):  # their messages catch up, after the commit
                notices.run_abandoned(session, session.scalars(select(Deployment).where(
                    Deployment.short_id == short)).one())
            claimed = run_queue.claim(session, self.name, self.clock())
            if claimed is None:
                return None
            run, deployment, module = claimed.run, claimed.deployment, claimed.module
            sensitive = deployments.sensitive_inputs(session, box, deployment)
            names = sensitive_names(load_spec(module.spec)) if module is not None else set()
            allowed = deployment.source_platform or provisioners_allowed(session)
            saved = pending.saved_plan(session, box, run)
            phase: Phase = "apply" if saved is not None else "plan" if run.review else "all"
            return Job(run.id, run.action, deployment.id, deployment.short_id,
                       {**deployment.inputs, **sensitive}, names | set(sensitive), allowed,
                       deployment=deployment, mention=notices.mention(session, deployment),
                       where=deployments.chat_ref(deployment), phase=phase, saved_plan=saved,
                       planned_on=review.StateVersion(run.state_serial, run.state_lineage))

    def _execute(self, job: Job) -> Finished | Planned:
        runtime = self.runtime
        try:
            files = again_if_lost(lambda: pinned_files(runtime.db, runtime.dispatcher.services, job.deployment_id),
                                  "pinned files")  # read again after a database restart (a fetch is idempotent)
            refused = module_policy.check_files(files, allow_provisioners=job.allow_provisioners)
            if refused:
                return Finished(DeploymentRunStatus.FAILURE, error="This module may not run here:\n"
                                + "\n".join(f"• {violation}" for violation in refused))
            terraform = self.terraform(runtime.config)
            terraform.check()
            state = DatabaseStateStore(runtime.db, runtime.dispatcher.services.secrets, job.deployment_id)
            import_legacy_state(state, runtime.config.data_dir, job.short_id)
            action = cast(Action, job.action.lower())
            version = review.state_version(again_if_lost(state.load, "state"))
            if job.phase == "apply" and version != job.planned_on:
                return Finished(DeploymentRunStatus.FAILURE, error="The deployment's state changed after its plan "
                                "was reviewed, so the plan was not applied. Update or destroy it again.")
            with run_directory(runtime.config.data_dir, f"{job.short_id}-{job.run_id}", files) as workdir:
                result = run(terraform, workdir, action, job.values, job.sensitive_names,
                             runtime.config.deploy_timeout, on_progress=lambda p: self._progress(job, p),
                             state=state, cancel=job.cancel, phase=job.phase, saved_plan=job.saved_plan)
            if job.phase == "plan" and result.ok and result.plan is not None and result.saved_plan is not None:
                if result.plan.changes_nothing:
                    return Finished(DeploymentRunStatus.SUCCESS, plan=review.NO_CHANGES, log=result.log)
                return Planned(result.plan, result.saved_plan, result.plan_text, result.log, version)
            return Finished(DeploymentRunStatus(result.status), plan=str(result.plan or ""), outputs=result.outputs,
                            error=result.error, log=result.log)
        except RadError as error:
            return Finished(DeploymentRunStatus.FAILURE, error=str(error))
        except Exception:
            incident = report(log, "deployment run failed unexpectedly", run=job.run_id)
            return Finished(DeploymentRunStatus.INTERNAL_ERROR,
                            error=f"An internal error stopped the run (error id {incident.error_id}).")

    def _progress(self, job: Job, progress: Progress) -> None:
        self._post_status(job, f"{progress.step}: {progress.state}")

    def _post_status(self, job: Job, step: str) -> None:
        """Show the status message with ``step`` as what the run is doing now (no database, no waiting)."""
        if job.chat is not None and job.deployment is not None:
            job.chat.status(status_reply(job.deployment, job.mention, progress=step))

    def _heartbeat(self, run_id: int) -> tuple[threading.Event, threading.Event]:
        """Renew the run's lease until the first event is set; the second is set when the run is lost.

        A database error is logged (its kind only) and retried with backoff: the lease outlasts a short
        outage, and only another worker's ``fail_abandoned`` after it really expired takes the run away.
        When a beat finds the run is no longer ours, the lost event tells the Terraform command to stop.
        """
        stop, lost = threading.Event(), threading.Event()

        def beat() -> None:
            failures, wait = 0, self.beat_seconds
            while not stop.wait(wait):
                try:
                    with self.runtime.db.unit_of_work() as session:
                        ours = run_queue.beat(session, run_id, self.name, self.clock())
                except Exception as error:  # any database error: keep beating
                    failures += 1
                    wait = min(self.beat_seconds, self.beat_seconds / 8 * 2 ** (failures - 1))
                    log.warning("deployment heartbeat failed; retrying", extra={
                        "run": run_id, "error": type(error).__name__, "attempt": failures, "retry_in": wait})
                    continue
                if not ours and not stop.is_set():
                    log.warning("deployment run lost its lease; stopping it", extra={"run": run_id})
                    lost.set()
                    return
                failures, wait = 0, self.beat_seconds

        threading.Thread(target=beat, name=f"beat-{run_id}", daemon=True).start()
        return stop, lost

    def run_forever(self, stop: threading.Event, poll_seconds: float = 1.0, waker: Waker | None = None) -> None:
        """Claim and run deployment runs until ``stop`` is set; when none is due, wait for ``waker`` or the poll.

        With a ``waker`` (PostgreSQL), a run queued meanwhile (a Confirm, an Apply) wakes the loop at once.
        """
        serve(self.run_once, DEPLOYMENT_RUNS, waker, stop, poll_seconds, name=self.name)


def start_deploy_workers(runtime: Runtime, messengers: dict[str, Messenger], stop: threading.Event,
                         count: int = 1, waker: Waker | None = None) -> list[threading.Thread]:
    """Start ``count`` claiming loops woken by ``waker`` (else a new one); first remove a killed one's leftovers.

    What runs of a killed predecessor left on disk (their working directories) is removed before any claim.
    """
    waker = waker or Waker(runtime.db).start(stop)
    left = remove_abandoned(runtime.config.data_dir)
    if left:
        log.warning("removed the working directories of runs whose worker died", extra={"runs": len(left)})
    threads = []
    for index in range(count):
        worker = DeployWorker(runtime, messengers, name=f"deploy-{index}-{uuid.uuid4().hex[:6]}")
        thread = threading.Thread(target=worker.run_forever, args=(stop, 1.0, waker), name=f"rad-deploy-{index}",
                                  daemon=True)
        thread.start()
        threads.append(thread)
    return threads

