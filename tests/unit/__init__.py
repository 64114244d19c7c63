"""Unit tests: core rules, parsers, renderers and their limits, without a database."""
