"""The catalog: scanning a repository, publishing its modules, browsing and pins."""
