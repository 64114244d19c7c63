"""Accounts: users and their chat identities, roles, and linking two identities to one user."""
