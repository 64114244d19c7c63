"""The domain: identity and roles, audit, access rules and (later) catalog, deployments and credits."""
