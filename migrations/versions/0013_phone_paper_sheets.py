"""paper sheets keyed in the console: the first and the optional second keying, and resolution

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 06:35:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    op.create_table(
        'paper_sheets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('wave_id', sa.Integer(), nullable=False),
        sa.Column('sheet_no', sa.String(length=32), nullable=False),
        sa.Column('response_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('first_by_id', sa.Integer(), nullable=False),
        sa.Column('first_unit', sa.String(length=64), nullable=False),
        sa.Column('first_answers', JSON, nullable=False),
        sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('second_by_id', sa.Integer(), nullable=True),
        sa.Column('second_unit', sa.String(length=64), nullable=True),
        sa.Column('second_answers', JSON, nullable=True),
        sa.Column('second_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resolved_by_id', sa.Integer(), nullable=True),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('single', 'matched', 'differs', 'resolved')", name=op.f('ck_paper_sheets_status')),
        sa.ForeignKeyConstraint(['first_by_id'], ['users.id'], name=op.f('fk_paper_sheets_first_by_id_users')),
        sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_paper_sheets_resolved_by_id_users')),
        sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_paper_sheets_response_id_responses')),
        sa.ForeignKeyConstraint(['second_by_id'], ['users.id'], name=op.f('fk_paper_sheets_second_by_id_users')),
        sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_paper_sheets_wave_id_waves')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_sheets')),
        sa.UniqueConstraint('wave_id', 'sheet_no', name=op.f('uq_paper_sheets_wave_id_sheet_no')),
    )
    op.create_index(op.f('ix_paper_sheets_wave_id'), 'paper_sheets', ['wave_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_paper_sheets_wave_id'), table_name='paper_sheets')
    op.drop_table('paper_sheets')
