"""QR codes, their export, and the short codes typed at /s (survey.qr, survey.links)."""

from __future__ import annotations

import csv
import re

import pytest
import segno
from sqlalchemy import select

from extensions import db
from models import ShortLink
from survey.links import SHORT_CODE_ALPHABET, normalise_code, read_token, resolve_short_code, short_codes
from survey.qr import collection_units, qr_png
from tests.survey.resident import (
    VILLAGE,
    WAVE,
    answer,
    link,
    resident_app_fixture,
    responses,
    unit,
    wave,
)

resident_app = pytest.fixture(resident_app_fixture, name="resident_app")

COLLECTING = {  # towns, villages and departments of the test city; not the city or its counties
    "619901001", "619901001001", "619901001002", "619901002", "619902001", "619902001001", "619902002",
    "619900501", "619900502", "619902501",
}


def short_code(w, u, mode: str = "qr") -> str:
    """The short code of one unit's link (created on first use)."""
    return short_codes(w, [u], mode)[u.id]


def read_index(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_qr_export_writes_one_png_per_collecting_unit_and_an_index(resident_app, tmp_path):
    out = tmp_path / "qr"
    result = resident_app.test_cli_runner().invoke(
        args=["qr", "export", "--wave", WAVE, "--out", str(out), "--base-url", "https://pingan.example.gov.cn/"]
    )
    assert result.exit_code == 0, result.output
    assert "10 个二维码" in result.output
    assert (out / "index.csv").read_bytes().startswith(b"\xef\xbb\xbfunit_code,name,url,short_code\r\n")
    rows = read_index(out / "index.csv")
    assert {r["unit_code"] for r in rows} == COLLECTING
    assert {p.name for p in out.iterdir()} == {f"{c}.png" for c in COLLECTING} | {"index.csv"}
    codes = set()
    for row in rows:
        assert row["name"] == unit(row["unit_code"]).name
        assert row["url"].startswith("https://pingan.example.gov.cn/s/")
        target = read_token(row["url"].rsplit("/", 1)[1])
        assert (target.wave.slug, target.unit.code, target.mode) == (WAVE, row["unit_code"], "qr")
        png = (out / f"{row['unit_code']}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert png == qr_png(row["url"])  # the picture encodes exactly this URL
        assert re.fullmatch(f"[{SHORT_CODE_ALPHABET}]{{6}}", row["short_code"])
        codes.add(row["short_code"])
        assert resolve_short_code(row["short_code"]) == row["url"].rsplit("/", 1)[1]
    assert len(codes) == len(rows)


def test_exporting_again_keeps_the_short_codes(resident_app, tmp_path):
    runner = resident_app.test_cli_runner()
    assert runner.invoke(args=["qr", "export", "--wave", WAVE, "--out", str(tmp_path / "a")]).exit_code == 0
    assert runner.invoke(args=["qr", "export", "--wave", WAVE, "--out", str(tmp_path / "b")]).exit_code == 0
    a, b = read_index(tmp_path / "a" / "index.csv"), read_index(tmp_path / "b" / "index.csv")
    assert a == b
    assert a[0]["url"].startswith("http://127.0.0.1:5000/s/")  # PUBLIC_BASE_URL's default
    # made once, when the wave was created (both modes), never by an export
    assert db.session.scalar(select(db.func.count()).select_from(ShortLink).where(ShortLink.mode == "qr")) == len(COLLECTING)


def test_door_cards_get_their_own_links_and_codes(resident_app, tmp_path):
    runner = resident_app.test_cli_runner()
    assert runner.invoke(args=["qr", "export", "--wave", WAVE, "--out", str(tmp_path / "qr")]).exit_code == 0
    assert runner.invoke(args=["qr", "export", "--wave", WAVE, "--out", str(tmp_path / "door"), "--mode", "door"]).exit_code == 0
    posters = {r["unit_code"]: r for r in read_index(tmp_path / "qr" / "index.csv")}
    cards = {r["unit_code"]: r for r in read_index(tmp_path / "door" / "index.csv")}
    for code, card in cards.items():
        assert card["short_code"] != posters[code]["short_code"]
        assert read_token(card["url"].rsplit("/", 1)[1]).mode == "door"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--wave", "nope", "--out", "{tmp}"], "调查 “nope” 不存在"),
        (["--wave", WAVE, "--out", "{tmp}", "--base-url", "pingan.example"], "应以 http:// 或 https:// 开头"),
        (["--wave", WAVE, "--out", "{tmp}/index.csv/x"], "无法写入目录"),
    ],
)
def test_qr_export_errors_are_one_clear_line(resident_app, tmp_path, args, message):
    (tmp_path / "index.csv").write_text("a file, not a directory")
    result = resident_app.test_cli_runner().invoke(args=["qr", "export", *[a.format(tmp=tmp_path) for a in args]])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_collection_units_leave_out_the_aggregates(resident_app):
    assert {u.code for u in collection_units(wave())} == COLLECTING


def test_png_encodes_the_url():
    url = "https://pingan.example.gov.cn/s/WzEsIjYxOTkwMTAwMTAwMSJd.zmHQELCyX0M08J4i5cd01h4qOV8"
    png = qr_png(url)
    assert png.startswith(b"\x89PNG")
    symbol = segno.make(url, error="m", micro=False)
    assert symbol.error in ("M", "Q", "H")  # at least M: a scuffed poster still scans
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == height == (symbol.symbol_size(border=4)[0]) * 10  # four-module quiet zone, 10 px a module
    assert qr_png(url) == png  # deterministic: the same link prints the same code


# -- short codes ---------------------------------------------------------------------------


def test_a_short_code_is_stable_and_typable(resident_app):
    code = short_code(wave(), unit(VILLAGE))
    assert code == short_code(wave(), unit(VILLAGE))
    assert len(code) == 6 and not set(code) & set("01OIL")


@pytest.mark.parametrize("typed", ["{code}", "{lower}", "{code3}-{rest}", " {code3} {rest} ", "{code3}\u3000{rest}"])
def test_typing_a_short_code_opens_the_questionnaire(resident_app, typed):
    code = short_code(wave(), unit(VILLAGE))
    typed = typed.format(code=code, lower=code.lower(), code3=code[:3], rest=code[3:])
    client = resident_app.test_client()
    r = client.get("/s", query_string={"code": typed})
    assert r.status_code == 303
    assert r.headers["Location"] == link()
    assert "提交成功" in answer(client, r.headers["Location"]).get_data(as_text=True)
    assert responses()[0].unit_id == unit(VILLAGE).id


def test_a_door_short_code_keeps_the_mode(resident_app):
    code = short_code(wave(), unit(VILLAGE), "door")
    r = resident_app.test_client().get("/s", query_string={"code": code})
    assert read_token(r.headers["Location"].rsplit("/", 1)[1]).mode == "door"


def test_the_short_code_page_and_an_unknown_code(resident_app):
    client = resident_app.test_client()
    page = client.get("/s")
    assert page.status_code == 200 and 'name="code"' in page.get_data(as_text=True)
    for typed in ("ZZZZZZ", "ABC", "<b>x</b>"):  # an empty code asks for one: tests/survey/test_resident_features.py
        r = client.get("/s", query_string={"code": typed})
        body = r.get_data(as_text=True)
        assert r.status_code == 404
        assert "没有找到这个号码" in body and "<b>x</b>" not in body


def test_the_short_code_redirect_keeps_english(resident_app):
    code = short_code(wave(), unit(VILLAGE))
    r = resident_app.test_client().get("/s", query_string={"code": code, "lang": "en"})
    assert r.headers["Location"] == link() + "?lang=en"


def test_short_code_lookups_are_rate_limited(make_app):
    from tests.survey.resident import close_app, open_wave_app

    app, ctx = open_wave_app(make_app, RATELIMIT_ENABLED=True, SURVEY_CODE_RATE_LIMIT="3 per minute")
    try:
        client = app.test_client()
        for _ in range(3):
            assert client.get("/s", query_string={"code": "ZZZZZZ"}).status_code == 404
        assert client.get("/s", query_string={"code": "ZZZZZZ"}).status_code == 429
        assert client.get("/s").status_code == 200  # the empty page is not a guess
    finally:
        close_app(ctx)


def test_normalise_code():
    assert normalise_code(" abc-def ") == "ABCDEF"
    assert normalise_code("abc_def") == "ABCDEF"


def test_the_png_has_exactly_segnos_pixels():
    """qr_png writes the file with Pillow (faster): the picture is segno's own, pixel for pixel,
    black and white in 8-bit grey, 10 px a module with the four-module quiet zone."""
    import io

    import numpy as np
    from PIL import Image

    for url in ("https://pingan.example.gov.cn/s/WzEsIjYxOTkwMTAwMTAwMSJd.zmHQELCyX0M08J4i5cd01h4qOV8",
                "http://127.0.0.1/s/x"):
        theirs = io.BytesIO()
        segno.make(url, error="m", micro=False).save(theirs, kind="png", scale=10, border=4)
        ours = Image.open(io.BytesIO(qr_png(url)))
        assert ours.mode == "L" and set(np.unique(np.asarray(ours))) == {0, 255}
        assert np.array_equal(np.asarray(ours), np.asarray(Image.open(theirs).convert("L")))


def test_the_numpy_mask_choice_is_segnos_symbol_for_symbol():
    """survey.qr.find_and_apply_best_mask replaces segno's pure-Python mask evaluation: on links of
    every length the posters print (QR versions 2 to 9, all eight masks chosen somewhere), the mask
    and every module are the ones segno's own function gives."""
    import random
    import string

    from segno import encoder

    import survey.qr as qr

    assert encoder.find_and_apply_best_mask is qr.find_and_apply_best_mask
    rng = random.Random(20261206)
    alphabet = string.ascii_letters + string.digits + "-_."
    urls = [f"https://pingan.example.cn/s/{''.join(rng.choice(alphabet) for _ in range(rng.randint(10, 140)))}"
            for _ in range(240)] + [f"http://127.0.0.1:5000/s/{i}" for i in range(20)]
    ours = [segno.make(u, error="m", micro=False) for u in urls]
    try:
        encoder.find_and_apply_best_mask = qr._segno_best_mask
        theirs = [segno.make(u, error="m", micro=False) for u in urls]
    finally:
        encoder.find_and_apply_best_mask = qr.find_and_apply_best_mask
    assert {c.version for c in theirs} >= set(range(2, 10)) and {c.mask for c in theirs} == set(range(8))
    for url, a, b in zip(urls, ours, theirs):
        assert (a.mask, a.matrix) == (b.mask, b.matrix), url
