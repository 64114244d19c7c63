"""The Terraform tests run: the embedded engine in the configured sandbox, handed to workers as their factory."""

from __future__ import annotations

from core.config import Config
from core.terraform.engine import EmbeddedEngine, plugin_cache_dir
from core.terraform.launch import Terraform, terraform_for


def embedded_terraform(config: Config) -> Terraform:
    """The embedded engine (whatever ``tofu``/``terraform`` the machine has), for ``DeployWorker(terraform=...)``."""
    return terraform_for(config, engine=EmbeddedEngine(plugin_cache_dir(config.data_dir)))
