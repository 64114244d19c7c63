"""Terraform: engines, the sandbox, processes, working directories, the state backend and the runner."""
