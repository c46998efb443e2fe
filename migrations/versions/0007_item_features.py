"""Questionnaire items as real instruments: multiple choice, show_if, screening, English text

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-06 02:45:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('questionnaire_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title_en', sa.String(length=200), nullable=True))
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_en', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('multiple', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('show_if_item', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('show_if_codes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('screen_out', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
    with op.batch_alter_table('options', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label_en', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('options', schema=None) as batch_op:
        batch_op.drop_column('label_en')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('screen_out')
        batch_op.drop_column('show_if_codes')
        batch_op.drop_column('show_if_item')
        batch_op.drop_column('multiple')
        batch_op.drop_column('text_en')
    with op.batch_alter_table('questionnaire_versions', schema=None) as batch_op:
        batch_op.drop_column('title_en')
