"""`flask demo seed`: the demo city 安澜市 loaded through the product's importers."""

from __future__ import annotations

import importlib.util
import re
import stat
from collections import Counter
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from demo.city import build_city
from demo.model import WAVES, draw_levels, wave_responses
from extensions import db
from models import AnalysisResult, InterviewCase, PopulationMargin, Response, Unit, User, Wave
from survey.periods import parse_period
from tests.conftest import csrf_token

ANALYSIS_READY = importlib.util.find_spec("survey.results") is not None


def snapshot() -> dict:
    """Everything the seed creates, counted."""
    return {
        "units": dict(db.session.execute(select(Unit.kind, func.count()).group_by(Unit.kind)).all()),
        "margins": db.session.scalar(select(func.count()).select_from(PopulationMargin)),
        "waves": {w.period: w.status for w in db.session.scalars(select(Wave))},
        "responses": db.session.scalar(select(func.count()).select_from(Response)),
        "users": sorted(db.session.scalars(select(User.username))),
    }


def responses_per_unit(wave: Wave) -> dict[str, tuple[str, int]]:
    """unit code → (kind, responses in this wave)."""
    rows = db.session.execute(
        select(Unit.code, Unit.kind, func.count(Response.id))
        .join(Response, Response.unit_id == Unit.id)
        .where(Response.wave_id == wave.id)
        .group_by(Unit.code, Unit.kind)
    )
    return {code: (kind, n) for code, kind, n in rows}


def test_seed(app, runner):
    """One seed (it takes a few seconds), checked from every side."""
    seeded = runner.invoke(args=["demo", "seed"])
    assert seeded.exit_code == 0, seeded.output
    check_units_and_population()
    check_waves_and_responses()
    if ANALYSIS_READY:
        check_issued_lists_and_key_management()
    check_accounts_and_password_file(app, seeded.output)
    check_if_empty_leaves_the_database_alone(runner)
    check_changing_the_admin_password_deletes_the_file(app, runner)


def check_units_and_population() -> None:
    kinds = Counter(db.session.scalars(select(Unit.kind)))
    assert kinds["city"] == 1
    assert kinds["county"] == 4
    assert kinds["town"] >= 24
    assert 2 * kinds["town"] <= kinds["village"] <= 4 * kinds["town"]
    assert kinds["department"] >= 8

    city = db.session.scalar(select(Unit).where(Unit.kind == "city"))
    for dept in db.session.scalars(select(Unit).where(Unit.kind == "department")):
        assert dept.parent.kind in ("city", "county")
    assert sum(1 for d in city.children if d.kind == "department") >= 6
    for town in db.session.scalars(select(Unit).where(Unit.kind == "town")):
        assert 2 <= sum(1 for v in town.children if v.kind == "village") <= 4
        totals: dict[str, int] = {}
        for m in town.margins:
            totals[m.dimension] = totals.get(m.dimension, 0) + m.count
        assert set(totals) == {"sex", "age_group"}, town.name
        assert totals["sex"] == totals["age_group"], town.name
        assert 8_000 <= totals["sex"] <= 80_000, town.name
        assert {m.category for m in town.margins if m.dimension == "age_group"} == {"18-29", "30-44", "45-59", "60+"}
    assert db.session.scalar(select(func.count()).select_from(PopulationMargin)) == 6 * kinds["town"]


def check_waves_and_responses() -> None:
    waves = {w.period: w for w in db.session.scalars(select(Wave))}
    assert set(waves) == {"2026Q2", "2026Q3", "2026Q4"}
    assert {w.series for w in waves.values()} == {"safety"}
    assert {w.scope.kind for w in waves.values()} == {"city"}
    assert {w.target_n for w in waves.values()} == {60}
    assert waves["2026Q2"].status == ("published" if ANALYSIS_READY else "closed")
    assert waves["2026Q3"].status == "closed"
    assert waves["2026Q4"].status == "open"
    assert db.session.scalar(select(func.count()).select_from(AnalysisResult)) == (2 if ANALYSIS_READY else 0)

    totals = {}
    for period, wave in waves.items():
        per_unit = responses_per_unit(wave)
        totals[period] = sum(n for _, n in per_unit.values())
        assert {kind for kind, _ in per_unit.values()} == {"village", "department"}
        first, last = db.session.execute(
            select(func.min(Response.submitted_at), func.max(Response.submitted_at)).where(Response.wave_id == wave.id)
        ).one()
        p = parse_period(period)
        assert p.start <= first.date() and last.date() <= p.end
        if wave.status != "open":
            villages = [n for kind, n in per_unit.values() if kind == "village"]
            departments = [n for kind, n in per_unit.values() if kind == "department"]
            assert any(n < 30 for n in villages), "some villages must fall short of min_n"
            assert sum(40 <= n <= 90 for n in villages) > 0.8 * len(villages)
            assert all(40 <= n <= 80 for n in departments)
    assert totals["2026Q2"] >= 3000 and totals["2026Q3"] >= 3000
    assert 0 < totals["2026Q4"] < min(totals["2026Q2"], totals["2026Q3"])

    modes = Counter(db.session.scalars(select(Response.mode)))
    assert modes["qr"] + modes["door"] > modes["phone"] + modes["paper"] > 0
    assert db.session.scalar(select(func.count()).where(Response.psu.is_(None))) > 0
    comments = [a["comment"] for a in db.session.scalars(select(Response.answers)) if a.get("comment")]
    assert len(comments) >= 24
    assert any("," in c or '"' in c for c in comments)


def check_issued_lists_and_key_management() -> None:
    """The seed issues each analysed wave's list in period order, so the second wave escalates to
    重点管理 exactly the units that were on the first wave's issued list and are listed again."""
    waves = {w.period: w for w in db.session.scalars(select(Wave))}
    cases = {
        period: {c.unit.code: c for c in db.session.scalars(select(InterviewCase).where(InterviewCase.wave_id == wave.id))}
        for period, wave in waves.items()
    }
    assert cases["2026Q2"] and cases["2026Q3"] and not cases["2026Q4"]
    assert all(c.status == "scheduled" and c.escalation is None for c in cases["2026Q2"].values())
    key = {code for code, c in cases["2026Q3"].items() if c.escalation == "key_management"}
    assert key and key == set(cases["2026Q3"]) & set(cases["2026Q2"])
    assert not any(c.unit.kind == "village" for period in cases.values() for c in period.values())


def check_accounts_and_password_file(app, output: str) -> None:
    match = re.search(r"管理员账号: admin  密码: (\S+)", output)
    assert match, output
    path = Path(app.instance_path) / "admin-password.txt"
    assert path.read_text(encoding="utf-8").strip() == match.group(1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = {u.username: u for u in db.session.scalars(select(User))}
    assert users["admin"].role == "admin"
    assert users["office"].role == "office"
    county = next(u for u in users.values() if u.role == "county")
    assert county.scope.kind == "county"
    assert county.username in output and "office" in output


def check_if_empty_leaves_the_database_alone(runner) -> None:
    before = snapshot()
    result = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "管理员账号: admin  密码: " in result.output
    assert snapshot() == before

    again = runner.invoke(args=["demo", "seed"])  # without --if-empty: refused, nothing changes
    assert again.exit_code == 1
    assert "--if-empty" in again.output
    assert snapshot() == before


def test_same_seed_same_city():
    def generate(seed: int):
        rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]
        city = build_city(rngs[0])
        levels = draw_levels(rngs[1], city)
        return city.unit_rows(), city.population_rows(), wave_responses(rngs[2], city, levels, WAVES[0])

    first, second, other = generate(7), generate(7), generate(8)
    assert first == second
    assert first[0] == other[0]  # the tree is fixed; population and answers are drawn
    assert first[1] != other[1] and first[2] != other[2]


def check_changing_the_admin_password_deletes_the_file(app, runner) -> None:
    """The saved first password goes once the admin has chosen another (issue 11)."""
    from tests.admin.console import isolated, sign_in

    path = Path(app.instance_path) / "admin-password.txt"
    first = path.read_text(encoding="utf-8").strip()
    client = isolated(app).test_client()
    sign_in(client, "admin", first)
    page = client.get("/admin/password").get_data(as_text=True)
    changed = client.post("/admin/password", data={
        "csrf_token": csrf_token(page), "current_password": first,
        "new_password": "my-own-admin-pass", "repeat_password": "my-own-admin-pass",
    })
    assert changed.status_code == 302 and not path.exists()
    result = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert result.exit_code == 0 and first not in result.output and "密码" not in result.output
