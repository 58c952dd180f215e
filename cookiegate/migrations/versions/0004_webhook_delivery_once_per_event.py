"""one webhook delivery per webhook and event

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Two webhook workers fanning out the same webhook at the same moment must not queue an event
twice: (webhook_id, event_pk) becomes unique. The unique index starts with webhook_id, so the
plain index on webhook_id is no longer needed.
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_webhook_id'))
        batch_op.create_unique_constraint(batch_op.f('uq_webhook_delivery_webhook_id_event_pk'),
                                          ['webhook_id', 'event_pk'])


def downgrade():
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_webhook_delivery_webhook_id_event_pk'), type_='unique')
        batch_op.create_index(batch_op.f('ix_webhook_delivery_webhook_id'), ['webhook_id'], unique=False)
