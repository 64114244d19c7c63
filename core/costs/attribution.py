"""Which deployment a billing row belongs to (DESIGN.md section 3).

A row belongs to the deployment whose id its ``rad-deployment`` label names; else to the deployment whose
``project_id`` output equals the row's ``project.id`` (the first created, when several report the same project).
A row that matches neither stays unattributed and is shown to finance.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import CostRow, Deployment

PROJECT_OUTPUT = "project_id"


@dataclass(frozen=True)
class Owners:
    """Deployments by short id and by the project they report: (deployment id, owner id)."""

    by_label: dict[str, tuple[int, int]]
    by_project: dict[str, tuple[int, int]]


def owners(session: Session) -> Owners:
    """Every deployment (deleted ones too: their last costs arrive late) as attribution maps."""
    by_label: dict[str, tuple[int, int]] = {}
    by_project: dict[str, tuple[int, int]] = {}
    query = select(Deployment.id, Deployment.short_id, Deployment.owner_id, Deployment.outputs).order_by(Deployment.id)
    for dep_id, short, owner, outputs in session.execute(query):
        by_label[short.lower()] = (dep_id, owner)
        project = (outputs or {}).get(PROJECT_OUTPUT)
        if isinstance(project, str) and project.strip():
            by_project.setdefault(project.strip(), (dep_id, owner))
    return Owners(by_label, by_project)


def match(found: Owners, label: str, project_id: str) -> tuple[int, int] | None:
    """The (deployment, owner) a row belongs to: by label first, else by project; None when neither matches."""
    if label and label in found.by_label:
        return found.by_label[label]
    return found.by_project.get(project_id) if project_id else None


def attribute_pending(session: Session) -> int:
    """Attribute the rows still unattributed to deployments known now (one that reported its project later)."""
    found = owners(session)
    done = 0
    pending = select(CostRow.label_deployment, CostRow.project_id).where(CostRow.deployment_id.is_(None)).distinct()
    for label, project in list(session.execute(pending)):
        hit = match(found, label, project)
        if hit is None:
            continue
        result = session.execute(update(CostRow).where(
            CostRow.deployment_id.is_(None), CostRow.label_deployment == label, CostRow.project_id == project)
            .values(deployment_id=hit[0], user_id=hit[1]))
        done += int(getattr(result, "rowcount", 0) or 0)
    return done
