"""County offices on their own (issue 14): wave titles and periods as staff type them, a county's
own waves end to end, its row among its peers, its own PDFs, and the confirmations."""

from __future__ import annotations

from sqlalchemy import select

from extensions import db
from models import AuditEntry
from tests.admin.console import (  # noqa: F401  (fixtures)
    CITY,
    EAST,
    Q3,
    city,
    city_template,
    client_for,
    field_error,
    post,
    text,
    wave,
)

NEW = {"slug": "2027Q1-city", "questionnaire": "safety", "scope": CITY, "period": "2027年第一季度", "series": "", "target_n": "40"}


def test_a_wave_typed_as_2027年第一季度_gets_a_default_title_shown_instead_of_the_slug(city):
    admin = client_for(city, "admin")
    assert post(admin, "/admin/waves/new", NEW).status_code == 302
    created = wave("2027Q1-city")
    assert created.period == "2027Q1" and str(created.period_start) == "2027-01-01"
    assert created.title == "示例市2027年第一季度公众安全感和满意度调查"
    page = text(admin.get("/admin/waves/2027Q1-city"))
    assert "示例市2027年第一季度公众安全感和满意度调查 草稿" in page
    listing = text(admin.get("/admin/waves"))
    assert "示例市2027年第一季度公众安全感和满意度调查" in listing and "2027年第一季度" in listing
    assert "2027Q1-city" not in listing


def test_a_title_is_chosen_at_creation_and_renamed_with_an_audit_entry(city):
    admin = client_for(city, "admin")
    assert post(admin, "/admin/waves/new", {**NEW, "title": "示例市一季度平安建设测评"}).status_code == 302
    assert wave("2027Q1-city").title == "示例市一季度平安建设测评"
    renamed = post(admin, "/admin/waves/2027Q1-city/title", {"title": " 示例市2027年一季度平安测评 "})
    assert renamed.status_code == 302 and wave("2027Q1-city").title == "示例市2027年一季度平安测评"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "wave.rename"))
    assert entry.before == {"title": "示例市一季度平安建设测评"} and entry.after == {"title": "示例市2027年一季度平安测评"}
    blank = post(admin, "/admin/waves/2027Q1-city/title", {"title": "  "})
    assert blank.status_code == 422 and field_error(blank, "title") == "请填写调查名称"
    long = post(admin, "/admin/waves/2027Q1-city/title", {"title": "长" * 201})
    assert long.status_code == 422 and "最多 200 字" in field_error(long, "title")
    assert wave("2027Q1-city").title == "示例市2027年一季度平安测评"
    # a county account may not rename the city's wave; an analyst may not rename at all
    assert post(client_for(city, "east"), f"/admin/waves/{Q3}/title", {"title": "东城区的"}).status_code == 403
    assert post(client_for(city, "analyst"), f"/admin/waves/{Q3}/title", {"title": "x"}).status_code == 403
    assert wave(Q3).title == "示例市2026年第三季度公众安全感和满意度调查"


def test_a_bad_period_is_refused_beside_its_field_in_chinese(city):
    admin = client_for(city, "admin")
    bad = post(admin, "/admin/waves/new", {**NEW, "period": "2027年第五季度"})
    assert bad.status_code == 422 and "格式不对" in field_error(bad, "period") and "2027年第一季度" in field_error(bad, "period")
    assert wave("2027Q1-city") is None
