"""Runs deployments: claims a queued run, fetches the module at its commit, runs Terraform, reports in chat.

The status message is posted when the run starts and edited in place at each step; when the run ends, a
reply carries the outputs (or the error and the log's tail), the full log as a file, and mentions the owner.
A heartbeat marks the run alive; runs whose worker died are failed by ``fail_abandoned``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy.orm import Session

from bot.runtime import Runtime
from commands.deploy_messages import result_reply, status_reply
from commands.messenger import Messenger
from commands.ui import Reply
from core import deployments
from core.conversations import ConversationRef
from core.deploy_inputs import sensitive_names
from core.deployments import Finished
from core.errors import RadError
from core.identity import IdentityKey, describe
from core.module_source import module_files
from core.terraform_engine import find_engine
from core.terraform_runner import Action, Progress, prepare_workdir, run
from storage.models import Deployment, Module, User, utcnow

log = logging.getLogger(__name__)
BEAT_SECONDS = 20.0


@dataclass
class Job:
    """What a claimed run needs, read in one short transaction."""

    run_id: int
    action: str
    deployment_id: int
    module_id: int
    values: dict[str, Any]
    sensitive_names: set[str]
    where: ConversationRef | None = None
    """The status message once posted (else its channel): every later step edits it."""


class DeployWorker:
    """One claiming loop over deployment runs; several can share a database."""

    def __init__(self, runtime: Runtime, messengers: dict[str, Messenger], *, name: str = "",
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.runtime, self.messengers, self.clock = runtime, messengers, clock
        self.name = name or f"deploy-{uuid.uuid4().hex[:8]}"

    def run_once(self) -> bool:
        """Claim and run one queued run; False when none was queued."""
        job = self._claim()
        if job is None:
            return False
        self._post_status(job, "starting")
        stop_beating = self._heartbeat(job.run_id)
        try:
            finished = self._execute(job)
        finally:
            stop_beating.set()
        with self.runtime.db.unit_of_work() as session:
            deployment = deployments.finish_run(session, job.run_id, finished, self.clock())
            reply = result_reply(deployment, self._mention(session, deployment), finished.error,
                                 "\n".join(finished.log.splitlines()[-40:]), finished.log)
            final = status_reply(deployment, self._mention(session, deployment), plan=finished.plan)
        self._show(job, final)
        where = job.where
        if where is not None:
            self._send(where.in_thread(where.thread or where.message), reply, edit=False)
        return True

    def _claim(self) -> Job | None:
        db, box = self.runtime.db, self.runtime.dispatcher.services.secrets
        with db.unit_of_work() as session:
            deployments.fail_abandoned(session, self.clock())
        with db.unit_of_work() as session:
            claimed = deployments.claim_run(session, self.name, self.clock())
            if claimed is None:
                return None
            deployment = session.get_one(Deployment, claimed.deployment_id)
            module = session.get(Module, deployment.module_id) if deployment.module_id else None
            if module is None:
                deployments.finish_run(session, claimed.id, Finished(
                    "FAILURE", error=f"The module `{deployment.module_name}` is no longer published."), self.clock())
                return None
            sensitive = deployments.sensitive_inputs(session, box, deployment)
            names = sensitive_names(module.spec or {})
            where = deployments.chat_ref(deployment)
            return Job(claimed.id, claimed.action, deployment.id, module.id, {**deployment.inputs, **sensitive},
                       names | set(sensitive), where)

    def _execute(self, job: Job) -> Finished:
        runtime = self.runtime
        try:
            files = module_files(runtime.db, runtime.dispatcher.services, job.module_id)
            engine = find_engine(runtime.config)
            with runtime.db.unit_of_work() as session:
                short = session.get_one(Deployment, job.deployment_id).short_id
            workdir = prepare_workdir(runtime.config.data_dir, short, files)
            action = cast(Action, job.action.lower())
            result = run(engine, workdir, action, job.values, job.sensitive_names, runtime.config.deploy_timeout,
                         on_progress=lambda p: self._progress(job, p))
            return Finished(str(result.status), plan=str(result.plan or ""), outputs=result.outputs,
                            error=result.error, log=result.log)
        except RadError as error:
            return Finished("FAILURE", error=str(error))
        except Exception:
            error_id = uuid.uuid4().hex[:8]
            log.exception("deployment run failed unexpectedly", extra={"error_id": error_id, "run": job.run_id})
            return Finished("INTERNAL_ERROR", error=f"An internal error stopped the run (error id {error_id}).")

    def _progress(self, job: Job, progress: Progress) -> None:
        self._post_status(job, f"{progress.step}: {progress.state}")

    def _post_status(self, job: Job, step: str) -> None:
        """Show the status message with ``step`` as what the run is doing now."""
        with self.runtime.db.unit_of_work() as session:
            deployment = session.get_one(Deployment, job.deployment_id)
            reply = status_reply(deployment, self._mention(session, deployment), progress=step)
        self._show(job, reply)

    def _show(self, job: Job, reply: Reply) -> None:
        """Edit the status message; post it first when it is not there yet (also after a failed post)."""
        where = job.where
        if where is None or where.message:
            self._send(where, reply, edit=True)
            return
        posted = self._send(where, reply, edit=False)
        if posted is not None and posted.message:
            with self.runtime.db.unit_of_work() as session:
                session.get_one(Deployment, job.deployment_id).chat_message = posted.message
            job.where = posted

    def _send(self, where: ConversationRef | None, reply: Reply, *, edit: bool) -> ConversationRef | None:
        messenger = self.messengers.get(where.platform) if where is not None else None
        if messenger is None or where is None or not where.channel:
            return None
        try:
            if edit:
                messenger.edit(where, reply)
                return where
            return messenger.post(where, reply)
        except Exception:  # chat being down must never lose the run's result (it is in the database)
            log.exception("could not update the deployment message", extra={"platform": where.platform})
            return None

    def _mention(self, session: Session, deployment: Deployment) -> str:
        owner = session.get(User, deployment.owner_id)
        if owner is None:
            return "someone"
        same = [i for i in owner.identities if i.platform == deployment.chat_platform]
        if same:
            return describe(IdentityKey(same[0].platform, same[0].workspace, same[0].external_id))
        return owner.display_name

    def _heartbeat(self, run_id: int) -> threading.Event:
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(BEAT_SECONDS):
                with self.runtime.db.unit_of_work() as session:
                    deployments.beat(session, run_id, self.clock())

        threading.Thread(target=beat, name=f"beat-{run_id}", daemon=True).start()
        return stop

    def run_forever(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("deploy worker loop error")
                busy = False
            if not busy:
                stop.wait(poll_seconds)


def start_deploy_workers(runtime: Runtime, messengers: dict[str, Messenger], stop: threading.Event,
                         count: int = 1) -> list[threading.Thread]:
    threads = []
    for index in range(count):
        worker = DeployWorker(runtime, messengers, name=f"deploy-{index}-{uuid.uuid4().hex[:6]}")
        thread = threading.Thread(target=worker.run_forever, args=(stop,), name=f"rad-deploy-{index}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads

