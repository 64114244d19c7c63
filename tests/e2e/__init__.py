"""End-to-end tests: signed Slack requests, Discord interactions, the console and real processes."""
