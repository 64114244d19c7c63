"""Deployments: the service (create, update, destroy...), the runs workers claim, pinned source, state."""
