"""The domain, one package per concept.

The kernel (errors, config, services, audit, conversations, secrets, suggestions) is at the root.
"""
