"""mailer event ids

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

The ids of the events a site's mailer sends to POST /api/v1/newsletter/events (unsubscribes,
bounces, complaints), kept so that a retried event is applied once: unique per site.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mailer_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('event_key', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_mailer_event_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailer_event')),
    sa.UniqueConstraint('site_id', 'event_key', name=op.f('uq_mailer_event_site_id_event_key'))
    )


def downgrade():
    op.drop_table('mailer_event')
