"""Shared test support: front-door harnesses, Discord's API description, sample repositories."""
