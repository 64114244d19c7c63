"""Who may do what to a deployment, asked before a button is shown (the same rules refuse a forged click).

Everyone who may see a deployment (its owner, admins, finance) sees its card; only its owner and admins
manage it (update, destroy, cancel, purge); only its owner retries a CREATE that never succeeded (it is
charged to them) and rates it.
"""

from __future__ import annotations

from core.accounts.roles import ADMIN
from storage.models import Deployment, User


def may_manage(user: User, deployment: Deployment) -> bool:
    """Whether ``user`` may update, destroy, cancel or purge ``deployment``: its owner or an admin."""
    return deployment.owner_id == user.id or ADMIN in user.role_names


def is_owner(user: User, deployment: Deployment) -> bool:
    """Whether ``user`` owns ``deployment`` (only they retry its CREATE, which is charged to them, and rate it)."""
    return deployment.owner_id == user.id
