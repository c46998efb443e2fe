import pytest
from sqlalchemy import select

from extensions import db
from models import AnalysisResult, AuditEntry, Wave
from survey.periods import parse_period
from survey.waves import previous_wave
from tests.conftest import DATA
from tests.survey.helpers import count, setup_wave


@pytest.mark.parametrize(
    "code, start, end, label",
    [
        ("2026M07", "2026-07-01", "2026-07-31", "2026年7月"),
        ("2026M02", "2026-02-01", "2026-02-28", "2026年2月"),
        ("2026Q3", "2026-07-01", "2026-09-30", "2026年第三季度"),
        ("2026H1", "2026-01-01", "2026-06-30", "2026年上半年"),
        ("2026", "2026-01-01", "2026-12-31", "2026年"),
    ],
)
def test_periods(code, start, end, label):
    p = parse_period(code)
    assert (p.start.isoformat(), p.end.isoformat(), p.label) == (start, end, label)


@pytest.mark.parametrize("code", ["2026Q5", "2026M13", "2026M7", "26Q3", "2026-Q3", "2026H3", "Q3", ""])
def test_malformed_periods(code):
    with pytest.raises(ValueError):
        parse_period(code)


def create(runner, *extra, slug="w1", period="2026Q3", scope="619900"):
    return runner.invoke(
        args=["wave", "create", "--slug", slug, "--questionnaire", "safety", "--scope", scope, "--period", period, *extra]
    )


@pytest.fixture
def loaded(runner):
    runner.invoke(args=["units", "import", str(DATA / "units.csv"), "--population", str(DATA / "population.csv")])
    runner.invoke(args=["questionnaire", "load", str(DATA / "questionnaire.yaml")])
    return runner


def test_create_and_walk_through_the_statuses(loaded):
    result = create(loaded)
    assert result.exit_code == 0, result.output
    wave = db.session.scalars(select(Wave)).one()
    assert (wave.series, wave.status, wave.period_start.isoformat(), wave.target_n) == ("safety", "draft", "2026-07-01", 100)
    assert loaded.invoke(args=["wave", "close", "w1"]).exit_code != 0  # not open yet
    assert "进行中" in loaded.invoke(args=["wave", "open", "w1"]).output
    assert "已结束" in loaded.invoke(args=["wave", "close", "w1"]).output
    refused = loaded.invoke(args=["wave", "publish", "w1"])
    assert refused.exit_code != 0 and "还没有分析结果" in refused.output
    db.session.refresh(wave)
    assert wave.status == "closed" and wave.opened_at and wave.closed_at
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "wave")).all()
    assert actions == ["wave.create", "wave.open", "wave.close"]


def test_publish_needs_results(loaded):
    create(loaded)
    loaded.invoke(args=["wave", "open", "w1"])
    loaded.invoke(args=["wave", "close", "w1"])
    wave = db.session.scalars(select(Wave)).one()
    db.session.add(AnalysisResult(wave=wave, computed_by="test", weight_cap=5, n_responses=0, n_rejected=0, payload={}))
    db.session.commit()
    assert "已发布" in loaded.invoke(args=["wave", "publish", "w1"]).output


def test_publishing_forgets_the_residents_keyed_hashes_but_keeps_their_flags(loaded):
    from models import Response, Unit

    create(loaded)
    loaded.invoke(args=["wave", "open", "w1"])
    wave = db.session.scalars(select(Wave)).one()
    unit = db.session.scalars(select(Unit).where(Unit.code == "619900101")).first() or db.session.scalars(select(Unit)).first()
    for i in range(3):
        db.session.add(Response(wave_id=wave.id, unit_id=unit.id, response_key=f"r{i}", answers={}, flags=["burst"],
                                review_status="flagged", device_hash=f"d{i}", ip_hash="i", ua_hash="u"))
    db.session.commit()
    loaded.invoke(args=["wave", "close", "w1"])
    kept = db.session.execute(select(Response.device_hash, Response.ip_hash, Response.ua_hash)).all()
    assert kept == [(f"d{i}", "i", "u") for i in range(3)]  # closed: the review may still need them
    db.session.add(AnalysisResult(wave=wave, computed_by="test", weight_cap=5, n_responses=3, n_rejected=0, payload={}))
    db.session.commit()
    waiting = loaded.invoke(args=["wave", "publish", "w1"])  # refused while the sheets await review
    assert waiting.exit_code == 1 and "还有 3 份答卷待审核" in waiting.output
    for r in db.session.scalars(select(Response)):
        r.review_status = "accepted"  # reviewed: the flags stay
    db.session.commit()
    assert loaded.invoke(args=["wave", "publish", "w1"]).exit_code == 0
    db.session.expire_all()
    rows = db.session.execute(select(Response.device_hash, Response.ip_hash, Response.ua_hash, Response.flags)).all()
    assert rows == [(None, None, None, ["burst"])] * 3
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "wave.publish")).one()
    assert entry.after["resident_hashes_cleared"] == 3


@pytest.mark.parametrize(
    "args, words",
    [
        (dict(period="2026Q5"), "格式不对"),
        (dict(scope="999999"), "单位 “999999” 不存在"),
        (dict(slug="bad slug"), "调查标识"),
    ],
)
def test_rejects_bad_waves(loaded, args, words):
    result = create(loaded, **args)
    assert result.exit_code != 0 and words in result.output, result.output
    assert count(Wave) == 0


def test_rejects_unknown_questionnaire_and_duplicates(loaded):
    result = loaded.invoke(args=["wave", "create", "--slug", "w", "--questionnaire", "nope", "--scope", "619900", "--period", "2026Q3"])
    assert result.exit_code != 0 and "问卷 “nope” 不存在" in result.output
    assert create(loaded).exit_code == 0
    assert "已存在" in create(loaded).output
    clash = create(loaded, slug="w2")
    assert clash.exit_code != 0 and "已有调查 “w1”" in clash.output
    assert create(loaded, "--series", "other", slug="w3").exit_code == 0
    assert count(Wave) == 2


def test_previous_wave_is_the_latest_earlier_period_of_the_series_and_scope(loaded):
    create(loaded, slug="q1", period="2026Q1")
    create(loaded, slug="q2", period="2026Q2")
    create(loaded, slug="q3", period="2026Q3")
    create(loaded, "--series", "other", slug="o2", period="2026Q2")
    create(loaded, slug="town-q2", period="2026Q2", scope="619901")
    waves = {w.slug: w for w in db.session.scalars(select(Wave))}
    assert previous_wave(waves["q3"]).slug == "q2"
    assert previous_wave(waves["q2"]).slug == "q1"
    assert previous_wave(waves["q1"]) is None
    assert previous_wave(waves["o2"]) is None
