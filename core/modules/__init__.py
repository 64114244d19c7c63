"""Modules: a module folder to a typed spec (variables, types, metadata, deploy inputs) and what it may contain."""
