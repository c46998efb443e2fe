"""jobs: one row per background job (analysis run or document build), docs/jobs.md

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 06:10:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('inputs', JSONType, nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('wave_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('progress', sa.Integer(), nullable=False),
        sa.Column('step', sa.String(length=100), nullable=True),
        sa.Column('result_path', sa.String(length=1024), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=True),
        sa.Column('summary', sa.Text(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('worker', sa.String(length=255), nullable=True),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('requested_by_name', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('analysis', 'quarterly', 'interviews', 'board', 'posters', 'xlsx')", name=op.f('ck_jobs_kind')),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_jobs_status')),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_jobs_requested_by_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_jobs_wave_id_waves')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
        sa.UniqueConstraint('fingerprint', name=op.f('uq_jobs_fingerprint')),
    )
    op.create_index(op.f('ix_jobs_wave_id'), 'jobs', ['wave_id'], unique=False)
    op.create_index(op.f('ix_jobs_status'), 'jobs', ['status'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_jobs_status'), table_name='jobs')
    op.drop_index(op.f('ix_jobs_wave_id'), table_name='jobs')
    op.drop_table('jobs')
