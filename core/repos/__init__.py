"""Repositories: the GitHub client, repository readers (GitHub and local folders) and connections."""
