"""phone interviews: the call list (call_cases, numbers encrypted), call attempts with AAPOR
dispositions, responses.interviewer_id, and the role `interviewer`

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 06:10:00

"""
from alembic import op
import sqlalchemy as sa

from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

DISPOSITIONS = "('complete', 'partial', 'refusal', 'non_contact', 'busy', 'no_answer', 'ineligible', 'callback')"
ROLES_BEFORE = "('admin', 'county', 'office', 'analyst', 'collector')"
ROLES_AFTER = "('admin', 'county', 'office', 'analyst', 'collector', 'interviewer')"


def upgrade():
    op.create_table(
        'call_cases',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('wave_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('quota_cell', sa.String(length=64), nullable=True),
        sa.Column('number_enc', sa.Text(), nullable=True),
        sa.Column('number_hash', sa.String(length=64), nullable=True),
        sa.Column('line', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('disposition', sa.String(length=12), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_call_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('callback_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('holder_id', sa.Integer(), nullable=True),
        sa.Column('held_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('draft', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
        sa.Column('response_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f('ck_call_cases_status')),
        sa.CheckConstraint(f"disposition IN {DISPOSITIONS}", name=op.f('ck_call_cases_disposition')),
        sa.ForeignKeyConstraint(['holder_id'], ['users.id'], name=op.f('fk_call_cases_holder_id_users')),
        sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_call_cases_response_id_responses')),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_call_cases_unit_id_units')),
        sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_call_cases_wave_id_waves')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_call_cases')),
        sa.UniqueConstraint('wave_id', 'number_hash', name=op.f('uq_call_cases_wave_id_number_hash')),
    )
    op.create_index('ix_call_cases_wave_status', 'call_cases', ['wave_id', 'status'], unique=False)
    op.create_index(op.f('ix_call_cases_unit_id'), 'call_cases', ['unit_id'], unique=False)
    op.create_table(
        'call_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('interviewer_id', sa.Integer(), nullable=False),
        sa.Column('disposition', sa.String(length=12), nullable=False),
        sa.Column('called_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('callback_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"disposition IN {DISPOSITIONS}", name=op.f('ck_call_attempts_disposition')),
        sa.ForeignKeyConstraint(['case_id'], ['call_cases.id'], name=op.f('fk_call_attempts_case_id_call_cases')),
        sa.ForeignKeyConstraint(['interviewer_id'], ['users.id'], name=op.f('fk_call_attempts_interviewer_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_call_attempts')),
    )
    op.create_index(op.f('ix_call_attempts_case_id'), 'call_attempts', ['case_id'], unique=False)
    op.create_index(op.f('ix_call_attempts_interviewer_id'), 'call_attempts', ['interviewer_id'], unique=False)
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interviewer_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_responses_interviewer_id_users'), 'users', ['interviewer_id'], ['id'])
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint('role', f"role IN {ROLES_AFTER}")


def downgrade():
    op.drop_index(op.f('ix_call_attempts_interviewer_id'), table_name='call_attempts')
    op.drop_index(op.f('ix_call_attempts_case_id'), table_name='call_attempts')
    op.drop_table('call_attempts')
    op.drop_index(op.f('ix_call_cases_unit_id'), table_name='call_cases')
    op.drop_index('ix_call_cases_wave_status', table_name='call_cases')
    op.drop_table('call_cases')
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_responses_interviewer_id_users'), type_='foreignkey')
        batch_op.drop_column('interviewer_id')
    # interviewers' accounts stay (audit entries name them), as read-only and inactive ones
    op.execute("UPDATE users SET role = 'analyst', active = false WHERE role = 'interviewer'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint('role', f"role IN {ROLES_BEFORE}")
