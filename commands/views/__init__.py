"""Replies shared by handlers and background work."""
