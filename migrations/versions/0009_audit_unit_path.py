"""audit_log.unit_path: the unit an entry is about, so that a scoped admin reads its subtree's entries only

Revision ID: 0009
Revises: 0003
Create Date: 2026-12-06 03:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# Entries written before this revision: their unit from what they name, as audit.record now
# does (an entry that names nothing found stays NULL: only an unscoped admin reads it).
BACKFILL = {
    "unit": "SELECT u.path FROM units u WHERE u.code = audit_log.entity_id",
    "wave": "SELECT u.path FROM waves w JOIN units u ON u.id = w.scope_unit_id WHERE w.slug = audit_log.entity_id",
    "case": "SELECT u.path FROM interview_cases c JOIN units u ON u.id = c.unit_id WHERE CAST(c.id AS VARCHAR(64)) = audit_log.entity_id",
    "response": "SELECT u.path FROM responses r JOIN units u ON u.id = r.unit_id WHERE CAST(r.id AS VARCHAR(64)) = audit_log.entity_id",
    "user": "SELECT u.path FROM users a JOIN units u ON u.id = a.scope_unit_id WHERE a.username = audit_log.entity_id",
    "api_token": "SELECT u.path FROM api_tokens t JOIN users a ON a.id = t.user_id JOIN units u ON u.id = a.scope_unit_id"
                 " WHERE CAST(t.id AS VARCHAR(64)) = audit_log.entity_id",
}


def upgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_path', sa.String(length=1024), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_log_unit_path'), ['unit_path'], unique=False)
    for entity, query in BACKFILL.items():
        op.execute(sa.text(f"UPDATE audit_log SET unit_path = ({query}) WHERE entity = :entity").bindparams(entity=entity))


def downgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_unit_path'))
        batch_op.drop_column('unit_path')
