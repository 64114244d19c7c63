"""The Slack front door: Bolt app, Block Kit rendering, Messenger, Socket Mode."""
