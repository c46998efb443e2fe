"""case_rounds: every round of 整改通知 and 复查 of a 约谈 case, kept in order; the statuses
`recheck_asked` (the unit asked for 复查) and `reopened` (reopened after 销号, with a reason)

Existing cases that reached 整改 keep their one round as round 1: the case's 整改要求,
责任人, 时限 and 复查 (earlier failed rounds were overwritten before this revision; their
traces stay in the audit log).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 06:00:00

"""
from alembic import op
import sqlalchemy as sa

from models.types import Timestamp


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('scheduled', 'held', 'rectifying', 'rechecked', 'closed', 'withdrawn')"
NEW_STATUSES = ("status IN ('scheduled', 'held', 'rectifying', 'recheck_asked', 'rechecked', 'closed', 'reopened', "
                "'withdrawn')")


def upgrade():
    with op.batch_alter_table('interview_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reopen_reason', sa.Text(), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_interview_cases_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_interview_cases_status'), NEW_STATUSES)
    op.create_table(
        'case_rounds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('requirements', sa.Text(), nullable=False),
        sa.Column('responsible', sa.String(length=100), nullable=True),
        sa.Column('deadline', sa.Date(), nullable=True),
        sa.Column('notified_on', sa.Date(), nullable=True),
        sa.Column('plan', sa.Text(), nullable=True),
        sa.Column('report', sa.Text(), nullable=True),
        sa.Column('reported_on', sa.Date(), nullable=True),
        sa.Column('recheck_asked_on', sa.Date(), nullable=True),
        sa.Column('recheck_on', sa.Date(), nullable=True),
        sa.Column('recheck_result', sa.Text(), nullable=True),
        sa.Column('passed', sa.Boolean(), nullable=True),
        sa.Column('created_at', Timestamp(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['interview_cases.id'], name=op.f('fk_case_rounds_case_id_interview_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_rounds')),
        sa.UniqueConstraint('case_id', 'number', name=op.f('uq_case_rounds_case_id_number')),
    )
    with op.batch_alter_table('case_rounds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_rounds_case_id'), ['case_id'], unique=False)
    # the one round each case had so far: round 1
    op.execute(
        "INSERT INTO case_rounds (case_id, number, requirements, responsible, deadline, recheck_on, recheck_result,"
        " passed, created_at)"
        " SELECT id, 1, rectification_plan, responsible, deadline, recheck_on, recheck_result, recheck_passed, updated_at"
        " FROM interview_cases WHERE rectification_plan IS NOT NULL"
    )


def downgrade():
    op.execute("UPDATE interview_cases SET status = 'rectifying' WHERE status = 'recheck_asked'")
    op.execute("UPDATE interview_cases SET status = 'closed' WHERE status = 'reopened'")
    with op.batch_alter_table('case_rounds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_rounds_case_id'))
    op.drop_table('case_rounds')
    with op.batch_alter_table('interview_cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_interview_cases_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_interview_cases_status'), OLD_STATUSES)
        batch_op.drop_column('reopen_reason')
