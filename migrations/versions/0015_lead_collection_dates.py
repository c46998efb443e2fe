"""waves.collection_start / collection_end: the days residents are asked, printed on posters instead
of the whole period (NULL: the whole period)

Revision ID: 0015
Revises: 0014_todo
Create Date: 2026-12-06 07:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014_todo'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.add_column(sa.Column('collection_start', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('collection_end', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.drop_column('collection_end')
        batch_op.drop_column('collection_start')
