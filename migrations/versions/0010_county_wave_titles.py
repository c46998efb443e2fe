"""waves.title: a human title shown instead of the slug (安澜市2026年第四季度公众安全感调查)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 06:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_QUARTERS = "一二三四"


def _label(code: str) -> str:
    """The period's label as survey.periods prints it (a copy: a migration keeps its own rules)."""
    year = code[:4]
    rest = code[4:]
    if rest.startswith("Q"):
        return f"{year}年第{_QUARTERS[int(rest[1]) - 1]}季度"
    if rest.startswith("H"):
        return f"{year}年{'上' if rest[1] == '1' else '下'}半年"
    if rest.startswith("M"):
        return f"{year}年{int(rest[1:])}月"
    return f"{year}年"


def upgrade():
    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sa.String(length=200), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT w.id, w.period, u.name, v.title FROM waves w JOIN units u ON u.id = w.scope_unit_id"
        " JOIN questionnaire_versions v ON v.id = w.questionnaire_version_id"
    )).all()
    for wave_id, period, scope_name, questionnaire_title in rows:
        title = questionnaire_title.strip()
        if not title.endswith("调查"):
            title += "调查"
        conn.execute(sa.text("UPDATE waves SET title = :title WHERE id = :id").bindparams(
            title=f"{scope_name}{_label(period)}{title}"[:200], id=wave_id))
    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.alter_column('title', existing_type=sa.String(length=200), nullable=False)


def downgrade():
    with op.batch_alter_table('waves', schema=None) as batch_op:
        batch_op.drop_column('title')
