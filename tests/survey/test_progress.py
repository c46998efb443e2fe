"""Fieldwork progress per unit against the wave's target (survey.progress, `wave progress`)."""

from __future__ import annotations

import json

from extensions import db
from models import Response
from survey.progress import wave_progress
from tests.survey.helpers import setup_wave
from tests.survey.resident import WAVE, answer, link, make_resident_app, responses, unit, wave


def add(unit_code: str, status: str = "clean", n: int = 1, slug: str = WAVE) -> None:
    for _ in range(n):
        db.session.add(
            Response(
                wave_id=wave(slug).id,
                unit_id=unit(unit_code).id,
                response_key=f"r{db.session.query(Response).count()}-{unit_code}-{status}-{slug}",
                mode="paper",
                answers={},
                flags=["speeder"] if status == "flagged" else [],
                review_status=status,
            )
        )
        db.session.flush()
    db.session.commit()


def test_progress_rolls_up_to_towns_counties_and_the_city(app, runner):
    setup_wave(runner)
    add("619901001001", "clean", 3)
    add("619901001001", "flagged")
    add("619901001001", "rejected")  # a reviewer's rejection leaves the count
    add("619901001001", "accepted")
    add("619901001", "clean", 2)  # a town's own link
    add("619902501", "clean", 3)  # 石桥县公安局: its own domain, not 石桥县's
    add("619902501", "flagged")
    add("619900501")
    # Another wave's responses do not count.
    assert runner.invoke(args=["wave", "create", "--slug", "other", "--questionnaire", "safety", "--scope", "619900", "--period", "2026Q4"]).exit_code == 0
    add("619901001001", slug="other", n=5)

    rows = {r.code: r for r in wave_progress(wave())}
    assert list(rows) == [
        "619900", "619900501", "619900502", "619901", "619901001", "619901001001", "619901001002",
        "619901002", "619902", "619902001", "619902001001", "619902002", "619902501",
    ]
    got = {code: (r.n, r.n_flagged, r.target) for code, r in rows.items()}
    assert got == {
        "619900": (7, 1, 500),  # 临江区 300 + 石桥县 200; departments apart
        "619900501": (1, 0, 100),
        "619900502": (0, 0, 100),
        "619901": (7, 1, 300),
        "619901001": (7, 1, 200),  # its own 2 + 江滨社区 5; wants what its two villages want
        "619901001001": (5, 1, 100),
        "619901001002": (0, 0, 100),
        "619901002": (0, 0, 100),
        "619902": (0, 0, 200),
        "619902001": (0, 0, 100),
        "619902001001": (0, 0, 100),
        "619902002": (0, 0, 100),
        "619902501": (4, 1, 100),
    }
    village = rows["619901001001"]
    assert (village.name, village.kind, village.depth, village.collects) == ("江滨社区", "village", 3, True)
    assert village.share == 0.05
    assert rows["619900"].collects is False and rows["619900"].depth == 0
    assert rows["619901001"].share == 7 / 200


def test_progress_counts_answers_from_the_form(make_app):
    app = make_resident_app(make_app, SPEEDER_SECONDS=0)
    with app.app_context():
        setup_wave(app.test_cli_runner())
        answer(app.test_client(), link())
        assert len(responses()) == 1
        rows = {r.code: r for r in wave_progress(wave())}
        assert rows["619901001001"].n == rows["619901001"].n == rows["619900"].n == 1
        db.session.remove()
        db.engine.dispose()


def test_wave_progress_command(app, runner):
    setup_wave(runner)
    add("619901001001", "clean", 2)
    result = runner.invoke(args=["wave", "progress", WAVE])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["单位", "代码", "答卷", "待审", "甄别", "目标", "完成"]
    village = next(line for line in lines if "619901001001" in line)
    assert village.split() == ["江滨社区", "619901001001", "2", "0", "0", "100", "2%"]
    assert village.startswith("      江滨社区")  # indented by depth
    data = json.loads(runner.invoke(args=["wave", "progress", WAVE, "--json"]).output)
    assert data[0] == {
        "code": "619900", "name": "安澜市", "kind": "city", "depth": 0, "n": 2, "n_flagged": 0,
        "n_screened": 0, "target": 500, "share": 0.004, "collects": False,
    }


def test_wave_progress_of_an_unknown_wave(app, runner):
    result = runner.invoke(args=["wave", "progress", "nope"])
    assert result.exit_code == 1 and "调查 “nope” 不存在" in result.output
