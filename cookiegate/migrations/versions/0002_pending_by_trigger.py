"""mark every new consent event pending for the sequencer, in the database itself

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

The recording path no longer inserts the ledger_pending row: a trigger does, so an event
can never be inserted without being queued for sequencing (whoever inserts it).
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION cookiegate_mark_pending() RETURNS trigger AS $$
BEGIN
    INSERT INTO ledger_pending (event_pk, site_id) VALUES (NEW.id, NEW.site_id);
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute("CREATE TRIGGER consent_event_pending AFTER INSERT ON consent_event "
                   "FOR EACH ROW EXECUTE FUNCTION cookiegate_mark_pending()")
    else:
        op.execute("CREATE TRIGGER consent_event_pending AFTER INSERT ON consent_event "
                   "BEGIN INSERT INTO ledger_pending (event_pk, site_id) VALUES (NEW.id, NEW.site_id); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS consent_event_pending ON consent_event")
        op.execute("DROP FUNCTION IF EXISTS cookiegate_mark_pending()")
    else:
        op.execute("DROP TRIGGER IF EXISTS consent_event_pending")
