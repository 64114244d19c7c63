"""Integration tests: core on a real database, the real Terraform engine in the real sandbox."""
