"""Credits: exact amounts, the append-only ledger, and the service (balances, holds, spends)."""
