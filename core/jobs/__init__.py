"""Background jobs: the queue workers claim, and periodic housekeeping."""
