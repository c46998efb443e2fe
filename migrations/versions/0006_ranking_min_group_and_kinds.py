"""questionnaire_versions.min_group and .ranked_kinds: the ranking's smallest listable peer group and the
ranked unit kinds (docs/method.md "Ranking", "Interview list"); NULL on older rows = the defaults
(2 × bottom_n; county, town, department)

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-06 03:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('questionnaire_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_group', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column(
            'ranked_kinds', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            nullable=True,
        ))


def downgrade():
    with op.batch_alter_table('questionnaire_versions', schema=None) as batch_op:
        batch_op.drop_column('ranked_kinds')
        batch_op.drop_column('min_group')
