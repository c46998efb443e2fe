"""jobs.kind: `qr_zip` (the QR codes as PNGs in a zip) and `answer_sheets` (the raw answer sheets,
XLSX or CSV) become kinds of their own, no longer `posters` and `xlsx` jobs told apart by their
inputs (docs/jobs.md)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 12:20:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('analysis', 'quarterly', 'interviews', 'board', 'posters', 'xlsx')"
NEW_KINDS = "kind IN ('analysis', 'quarterly', 'interviews', 'board', 'posters', 'xlsx', 'qr_zip', 'answer_sheets')"
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
jobs = sa.table('jobs', sa.column('id', sa.Integer()), sa.column('kind', sa.String(16)), sa.column('inputs', JSONType))


def _rewrite(kind_of) -> None:
    """Give each stored job the kind and inputs `kind_of(kind, inputs)` returns (None: unchanged;
    a kind None: the row goes). In Python, as the inputs are JSON on SQLite and JSONB on
    PostgreSQL; a few rows a day."""
    bind = op.get_bind()
    for job_id, kind, inputs in bind.execute(sa.select(jobs.c.id, jobs.c.kind, jobs.c.inputs)).all():
        changed = kind_of(kind, dict(inputs or {}))
        if changed is None:
            continue
        row = jobs.c.id == job_id
        if changed[0] is None:
            bind.execute(jobs.delete().where(row))
        else:
            bind.execute(jobs.update().where(row).values(kind=changed[0], inputs=changed[1]))


def _own_kind(kind: str, inputs: dict):
    if kind == 'posters' and inputs.pop('format', None) == 'zip':
        return 'qr_zip', inputs
    if kind == 'xlsx' and inputs.pop('table', None) == 'answer_sheets':
        return 'answer_sheets', {**inputs, 'format': 'xlsx'}
    return None


def _old_kind(kind: str, inputs: dict):
    if kind == 'qr_zip':
        return 'posters', {**inputs, 'format': 'zip'}
    if kind == 'answer_sheets':
        if inputs.pop('format', 'xlsx') == 'csv':  # the older schema built the CSV in the request
            return None, None
        return 'xlsx', {**inputs, 'table': 'answer_sheets'}
    return None


def upgrade():
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_jobs_kind'), type_='check')
        batch_op.create_check_constraint('kind', NEW_KINDS)
    # The fingerprints stay as they were: a request after the upgrade computes the new kind's and
    # gets a new job; the old rows are history, and their files go with `flask jobs prune`.
    _rewrite(_own_kind)


def downgrade():
    _rewrite(_old_kind)
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_jobs_kind'), type_='check')
        batch_op.create_check_constraint('kind', OLD_KINDS)
