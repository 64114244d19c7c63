"""Jules: the client of Google's Jules API."""
