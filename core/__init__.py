"""The domain, one package per concept; the kernel (errors, config, services, audit, conversations,
secrets, suggestions) at the root."""
