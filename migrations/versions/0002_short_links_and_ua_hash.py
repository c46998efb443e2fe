"""short links (typable codes for the resident links), responses.ua_hash (repeat-device flag),
one response per device per wave as a unique constraint

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 10:48:28.544328

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('short_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("mode IN ('qr', 'door')", name=op.f('ck_short_links_mode')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_short_links_unit_id_units')),
    sa.ForeignKeyConstraint(['wave_id'], ['waves.id'], name=op.f('fk_short_links_wave_id_waves')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_short_links')),
    sa.UniqueConstraint('code', name=op.f('uq_short_links_code')),
    sa.UniqueConstraint('wave_id', 'unit_id', 'mode', name=op.f('uq_short_links_wave_id_unit_id_mode'))
    )
    with op.batch_alter_table('short_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_short_links_unit_id'), ['unit_id'], unique=False)

    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ua_hash', sa.String(length=64), nullable=True))
        batch_op.drop_index('ix_responses_wave_device')
        batch_op.create_unique_constraint(batch_op.f('uq_responses_wave_id_device_hash'), ['wave_id', 'device_hash'])



def downgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_responses_wave_id_device_hash'), type_='unique')
        batch_op.create_index('ix_responses_wave_device', ['wave_id', 'device_hash'], unique=False)
        batch_op.drop_column('ua_hash')

    with op.batch_alter_table('short_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_short_links_unit_id'))

    op.drop_table('short_links')
