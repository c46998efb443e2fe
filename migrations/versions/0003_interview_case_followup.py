"""约谈 cases: the 整改责任人, whether the 复查 passed, and the `withdrawn` status
(a case still scheduled whose unit left the interview list after a re-run; cases are never deleted)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('scheduled', 'held', 'rectifying', 'rechecked', 'closed')"
NEW_STATUSES = "status IN ('scheduled', 'held', 'rectifying', 'rechecked', 'closed', 'withdrawn')"


def upgrade():
    with op.batch_alter_table('interview_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('responsible', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('recheck_passed', sa.Boolean(), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_interview_cases_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_interview_cases_status'), NEW_STATUSES)


def downgrade():
    op.execute("UPDATE interview_cases SET status = 'scheduled' WHERE status = 'withdrawn'")
    with op.batch_alter_table('interview_cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_interview_cases_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_interview_cases_status'), OLD_STATUSES)
        batch_op.drop_column('recheck_passed')
        batch_op.drop_column('responsible')
