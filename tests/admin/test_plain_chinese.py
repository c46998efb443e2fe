"""Plain Chinese for staff (issue 14): modes as 扫码 / 入户 / 电话 / 纸质, labels a clerk understands,
long lists with search, filters, sorting and XLSX export."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from extensions import db
from models import Response, Unit
from models.waves import MODE_LABELS, RESPONSE_MODES
from tests.admin.console import (  # noqa: F401  (fixtures)
    Q3,
    city,
    city_template,
    client_for,
    text,
    wave,
)


def test_every_mode_has_a_chinese_label():
    assert set(MODE_LABELS) == set(RESPONSE_MODES)
    assert list(MODE_LABELS.values()) == ["扫码", "入户", "电话", "纸质"]


def test_review_screens_say_the_mode_in_chinese(city):
    unit = db.session.scalar(select(Unit).where(Unit.code == "510701005"))
    ids = db.session.scalars(select(Response.id).where(Response.wave_id == wave(Q3).id, Response.unit_id == unit.id)
                             .order_by(Response.id).limit(4)).all()
    for rid, mode in zip(ids, RESPONSE_MODES):
        db.session.execute(update(Response).where(Response.id == rid).values(mode=mode, review_status="flagged", flags=["speeder"]))
    db.session.commit()
    admin = client_for(city, "admin")
    page = admin.get(f"/admin/waves/{Q3}/review")
    cells = re.findall(r"<td>(扫码|入户|电话|纸质|qr|door|phone|paper)</td>", page.get_data(as_text=True))
    assert sorted(cells) == sorted(MODE_LABELS.values())
    detail = text(admin.get(f"/admin/waves/{Q3}/responses/{ids[0]}"))
    assert "扫码" in detail and not re.search(r"\bqr\b", detail)
