"""Due dates and attachments of 约谈 cases: waves.interview_days (N days to hold the 约谈),
interview_cases.issued_on and interview_due, the case_attachments table, and users.email (the
待办 digest's address)

Revision ID: 0014_todo
Revises: 0013
Create Date: 2026-12-06 06:10:00

"""
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_todo'
down_revision = '0013'
branch_labels = None
depends_on = None

DEFAULT_DAYS = 15  # app.py INTERVIEW_DUE_DAYS' default


def _beijing_date(value) -> date:
    """A stored created_at (aware on PostgreSQL, text on SQLite; UTC) as a Beijing date."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo("Asia/Shanghai")).date()


def upgrade():
    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interview_days', sa.Integer(), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
    with op.batch_alter_table('interview_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issued_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('interview_due', sa.Date(), nullable=True))
    op.create_table(
        'case_attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('stored_name', sa.String(length=64), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
        sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('report', 'photo', 'scan', 'interview_record', 'other')", name=op.f('ck_case_attachments_kind')),
        sa.CheckConstraint('size > 0', name=op.f('ck_case_attachments_size_positive')),
        sa.ForeignKeyConstraint(['case_id'], ['interview_cases.id'], name=op.f('fk_case_attachments_case_id_interview_cases')),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_case_attachments_uploaded_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_attachments')),
        sa.UniqueConstraint('stored_name', name=op.f('uq_case_attachments_stored_name')),
    )
    with op.batch_alter_table('case_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_attachments_case_id'), ['case_id'], unique=False)

    # Cases issued before this revision: issued on the day they were created, due N days later.
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, created_at FROM interview_cases")).all()
    for case_id, created_at in rows:
        if created_at is None:
            continue
        issued = _beijing_date(created_at)
        bind.execute(
            sa.text("UPDATE interview_cases SET issued_on = :issued, interview_due = :due WHERE id = :id"),
            {"issued": issued, "due": issued + timedelta(days=DEFAULT_DAYS), "id": case_id},
        )


def downgrade():
    with op.batch_alter_table('case_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_attachments_case_id'))
    op.drop_table('case_attachments')
    with op.batch_alter_table('interview_cases', schema=None) as batch_op:
        batch_op.drop_column('interview_due')
        batch_op.drop_column('issued_on')
    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.drop_column('interview_days')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email')
