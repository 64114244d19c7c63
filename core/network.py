"""No network inside a transaction: outbound clients call ``assert_no_transaction`` before each request.

A transaction held over a call to GitHub, Jules or a chat API holds its locks (on SQLite the whole
database's write lock) for as long as the other side takes; every other user waits, then fails.
"""

from __future__ import annotations

from storage.db import transaction_open


class NetworkInTransaction(RuntimeError):
    """A programming error: an outbound call was made while this thread holds a database transaction.

    Fix the order at the caller: read what the call needs, end the transaction, call out, then store the
    result in a new unit of work (or run the call in a job, after its commit).
    """


def assert_no_transaction(what: str) -> None:
    """Refuse the outbound call ``what`` (e.g. ``"GitHubClient: check your token"``) inside a transaction."""
    if transaction_open():
        raise NetworkInTransaction(
            f"{what}: outbound call made while a database transaction is open in this thread; "
            "end the unit of work before calling out (see core/network.py)")
