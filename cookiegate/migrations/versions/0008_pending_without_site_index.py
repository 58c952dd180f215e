"""ledger_pending without its site_id index

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

Every recorded event inserts one ledger_pending row (trigger consent_event_pending), and on
SQLite each commit writes every B-tree page it touched: the site_id index was one page more per
event, about a fifth of the recording's database time. The queue is drained every second or
so, so the sequencer's per-site reads scan a short table in key order instead.
"""
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_pending', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_pending_site_id'))


def downgrade():
    with op.batch_alter_table('ledger_pending', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_pending_site_id'), ['site_id'], unique=False)
