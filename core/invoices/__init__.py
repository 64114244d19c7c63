"""Monthly invoices of project costs: one per user and month, numbered once, rendered as PDF."""
