"""Queues wake their workers: on PostgreSQL, queueing a job or a deployment run sends ``NOTIFY``.

A trigger on ``jobs`` notifies ``rad_jobs`` when a row becomes queued and due now (a retry due later does
not); one on ``deployment_runs`` notifies ``rad_deployment_runs`` when a run is queued or a reviewed plan is
approved. PostgreSQL sends the notification when the transaction commits (once per channel and transaction),
so a listening worker wakes exactly when the row can be claimed. SQLite has no notifications: nothing here.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION rad_wake_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END
$$
"""
TRIGGERS = (
    ("jobs_wake", "jobs", "UPDATE OF status, run_after",
     "NEW.status = 'queued' AND NEW.run_after <= clock_timestamp() + interval '1 second'", "rad_jobs"),
    ("deployment_runs_wake", "deployment_runs", "UPDATE OF status",
     "NEW.status IN ('QUEUED', 'APPROVED')", "rad_deployment_runs"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for name, table, updates, when, channel in TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} AFTER INSERT OR {updates} ON {table} FOR EACH ROW "
                   f"WHEN ({when}) EXECUTE FUNCTION rad_wake_queue('{channel}')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, *_ in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS rad_wake_queue()")
