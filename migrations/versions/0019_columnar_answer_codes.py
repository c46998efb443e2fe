"""responses.answer_codes and answer_texts: the answers packed for the analysis (analysis.packing), backfilled

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-06 09:30:00

"""
import json

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0017'
branch_labels = None
depends_on = None

BATCH = 20_000


def _packers(bind):
    """Questionnaire version id → analysis.packing.Packer, from the item and option tables as they are here
    (a Packer needs only each item's key, option codes in order and `multiple`)."""
    from analysis.packing import Packer
    from analysis.spec import Item, Option

    items: dict[int, list] = {}
    for item_id, version_id, key, multiple in bind.execute(sa.text(
            "SELECT id, version_id, key, multiple FROM items ORDER BY version_id, position")):
        items.setdefault(version_id, []).append((item_id, key, multiple))
    options: dict[int, list[str]] = {}
    for item_id, code in bind.execute(sa.text("SELECT item_id, code FROM options ORDER BY item_id, position")):
        options.setdefault(item_id, []).append(code)

    class Spec:  # the one attribute a Packer reads
        def __init__(self, rows):
            self.items = tuple(
                Item(key=key, text="", options=tuple(Option(c, c, None) for c in options.get(item_id, ())), multiple=multiple)
                for item_id, key, multiple in rows
            )

    return {version_id: Packer(Spec(rows)) for version_id, rows in items.items()}


def upgrade():
    with op.batch_alter_table('responses') as batch_op:
        batch_op.add_column(sa.Column('answer_codes', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('answer_texts', sa.Text(), nullable=True))

    bind = op.get_bind()
    packers = _packers(bind)
    update = sa.text("UPDATE responses SET answer_codes = :codes, answer_texts = :texts WHERE id = :id")
    is_pg = bind.dialect.name == "postgresql"
    for wave_id, version_id in bind.execute(sa.text("SELECT id, questionnaire_version_id FROM waves")).all():
        packer = packers.get(version_id)
        if packer is None:
            continue
        last = 0
        while True:
            rows = bind.execute(sa.text(
                f"SELECT id, {'answers::text' if is_pg else 'answers'} FROM responses "
                "WHERE wave_id = :wave AND id > :last ORDER BY id LIMIT :n"),
                {"wave": wave_id, "last": last, "n": BATCH}).all()
            if not rows:
                break
            params = []
            for rid, text in rows:
                answers = json.loads(text) if isinstance(text, str) else (text or {})
                params.append({"id": rid, "codes": packer.pack(answers), "texts": packer.texts(answers)})
            bind.execute(update, params)
            last = rows[-1][0]


def downgrade():
    with op.batch_alter_table('responses') as batch_op:
        batch_op.drop_column('answer_texts')
        batch_op.drop_column('answer_codes')
