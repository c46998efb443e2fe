"""The 网格员 (collector) role, and responses.collector_id: the account that filled a door-to-door sheet
(docs/security.md "Collectors")

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 06:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

OLD_ROLES = "role IN ('admin', 'county', 'office', 'analyst')"
NEW_ROLES = "role IN ('admin', 'county', 'office', 'analyst', 'collector')"


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint('role', NEW_ROLES)
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('collector_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_responses_collector_id'), ['collector_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_responses_collector_id_users'), 'users', ['collector_id'], ['id'])


def downgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_responses_collector_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_responses_collector_id'))
        batch_op.drop_column('collector_id')
    # The older schema knows no collectors: they become inactive read-only accounts, never deleted.
    op.execute("UPDATE users SET role = 'analyst', active = false WHERE role = 'collector'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint('role', OLD_ROLES)
