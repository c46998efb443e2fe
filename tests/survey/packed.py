"""Every stored response's packed answers agree with its JSON (models.responses.answer_columns)."""

from __future__ import annotations

from sqlalchemy import select

from extensions import db
from models import Response
from models.responses import answer_columns


def assert_packed(min_rows: int = 1) -> int:
    """Check every response row; return how many there are (at least `min_rows`)."""
    db.session.expire_all()
    rows = list(db.session.scalars(select(Response).order_by(Response.id)))
    assert len(rows) >= min_rows
    specs = {}
    for r in rows:
        if r.wave_id not in specs:
            specs[r.wave_id] = r.wave.questionnaire_version.to_spec()
        want = answer_columns(specs[r.wave_id], r.answers)
        assert want["answer_codes"] is not None, r.answers
        assert (r.answer_codes, r.answer_texts) == (want["answer_codes"], want["answer_texts"]), (r.response_key, r.answers)
    return len(rows)
