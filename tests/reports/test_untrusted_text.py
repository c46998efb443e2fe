"""Text from outside — unit names, questionnaire labels, residents' answers — in every file and page
the product writes: never a spreadsheet formula (CSV, XLSX), never markup (pages, PDFs).

One city is loaded once for the module, through the CLI, with units named like formulas and
markup, a questionnaire whose labels look like formulas, and residents' comments full of both.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from extensions import db
from models import Response
from reports.build import build_report
from cells import FORMULA_START, safe_cell, safe_row
from survey.waves import get_wave
from tests.admin.console import PASSWORD, client_for
from tests.reports.conftest import FIXTURES, ISSUED, accept_flagged, flat, invoke, pdf_pages

FORMULA_NAMES = {  # unit code → a name a spreadsheet would evaluate
    "510701002": '=HYPERLINK("http://x","y")',
    "510701003": "+1+1",
    "510701004": "-2+3",
    "510701005": "@SUM(A1)",
}
MARKUP_NAMES = {"510703001": "<script>alert(1)</script>", "510703002": "<img src=x onerror=alert(1)>"}
COMMENTS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '=HYPERLINK("http://x","点此")')
INDICATOR_LABEL = "=1+2"  # the label of the satisfaction index
GRADE_LABEL = "-不合格"  # the lowest grade
WAVE, EARLIER, OPEN = "w2", "w1", "w3"


def _is_formula_text(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_START)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


@pytest.fixture(scope="module")
def city(module_app, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("untrusted")
    runner = module_app.test_cli_runner()
    names = {**FORMULA_NAMES, **MARKUP_NAMES}
    with open(FIXTURES / "units.csv", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    with open(tmp / "units.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([r[0], names.get(r[0], r[1]), *r[2:]] for r in rows)
    yaml = (FIXTURES / "questionnaire.yaml").read_text(encoding="utf-8")
    yaml = yaml.replace("label: 满意度指数", f'label: "{INDICATOR_LABEL}"').replace("label: 不合格", f'label: "{GRADE_LABEL}"')
    (tmp / "questionnaire.yaml").write_text(yaml, encoding="utf-8")
    with open(FIXTURES / "responses_w2.csv", encoding="utf-8") as f:
        header = next(csv.reader(f))
    with open(tmp / "evil.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, header)
        writer.writeheader()
        for i, comment in enumerate(COMMENTS):  # the newest comments of the wave, in 510701002
            writer.writerow({c: "" for c in header} | dict(
                response_id=f"EVIL-{i}", unit_code="510701002", submitted_at=f"2026-09-30T23:5{i}:00+08:00",
                safety="E", sat_police="E", sex="M", age_group="30-44", comment=comment, mode="paper"))

    invoke(runner, "units", "import", str(tmp / "units.csv"), "--population", str(FIXTURES / "population.csv"))
    invoke(runner, "questionnaire", "load", str(tmp / "questionnaire.yaml"))
    for slug, period, file in ((EARLIER, "2026Q2", "responses_w1.csv"), (WAVE, "2026Q3", "responses_w2.csv")):
        invoke(runner, "wave", "create", "--slug", slug, "--questionnaire", "safety", "--scope", "510700",
               "--period", period)
        invoke(runner, "responses", "import", "--wave", slug, str(FIXTURES / file))
    invoke(runner, "responses", "import", "--wave", WAVE, str(tmp / "evil.csv"))
    for slug in (EARLIER, WAVE):
        invoke(runner, "analysis", "run", "--wave", slug)
        for action in ("open", "close"):
            invoke(runner, "wave", action, slug)
        accept_flagged(slug)  # publishing waits for the review
        invoke(runner, "wave", "publish", slug)
    invoke(runner, "wave", "create", "--slug", OPEN, "--questionnaire", "safety", "--scope", "510700",
           "--period", "2026Q4")
    invoke(runner, "wave", "open", OPEN)
    invoke(runner, "user", "create", "admin", "--role", "admin", "--password", PASSWORD)
    return module_app


def test_safe_cell():
    for text in ('=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", "=", "-"):
        assert safe_cell(text) == "'" + text and safe_cell(safe_cell(text)) == "'" + text
    for value in ("河东镇", "", " =1", "'=1", "a=1", 3, -0.52, 0.0, True, None):
        assert safe_cell(value) is value
    assert safe_row(["=1", -1, "x"]) == ["'=1", -1, "x"]


def test_csv_export(city):
    out = city.test_cli_runner().invoke(args=["analysis", "export", "--wave", WAVE, "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    # CSV has no types: a cell read back as "-0.52" is the number it was written as
    assert not any(_is_formula_text(v) and not _is_number(v) for row in rows for v in [*row.values(), *row.keys()])
    by_code = {r["code"]: r for r in rows}
    for code, name in FORMULA_NAMES.items():
        assert by_code[code]["name"] == "'" + name
    for code, name in MARKUP_NAMES.items():  # markup is only text in a spreadsheet: written as it is
        assert by_code[code]["name"] == name
    assert {r["grade"] for r in rows} >= {"'" + GRADE_LABEL}
    # numbers stay numbers, negative ones included
    changes = [float(r["change_estimate"]) for r in rows if r["change_estimate"]]
    assert any(c < 0 for c in changes) and all(not r["n"].startswith("'") for r in rows)
    assert [r for r in rows if r["change_estimate"].startswith("-")]


def test_json_export_is_unchanged(city):
    out = city.test_cli_runner().invoke(args=["analysis", "export", "--wave", WAVE, "--format", "json"])
    names = {u["code"]: u["name"] for u in json.loads(out.output)["units"]}
    assert all(names[code] == name for code, name in FORMULA_NAMES.items())


def _check_workbook(data: bytes) -> list:
    """Every cell of every sheet: no formula, no text a spreadsheet would evaluate; returns the cells."""
    book = load_workbook(io.BytesIO(data))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    for cell in cells:
        assert cell.data_type != "f" and not _is_formula_text(cell.value), (cell.coordinate, cell.value)
    values = [c.value for c in cells]
    for name in FORMULA_NAMES.values():
        assert "'" + name in values
    assert "'" + INDICATOR_LABEL in values and "'" + GRADE_LABEL in values
    negative = [c for c in cells if isinstance(c.value, (int, float)) and c.value < 0]
    assert negative and all(c.data_type == "n" for c in negative)
    return values


def test_xlsx_export(city, tmp_path):
    out = tmp_path / "results.xlsx"
    invoke(city.test_cli_runner(), "analysis", "export", "--wave", WAVE, "--format", "xlsx", "--out", str(out))
    _check_workbook(out.read_bytes())


def test_admin_downloads(city):
    admin = client_for(city, "admin")
    xlsx = admin.get(f"/admin/waves/{WAVE}/results.xlsx")
    assert xlsx.status_code == 200
    _check_workbook(xlsx.data)
    archive = zipfile.ZipFile(io.BytesIO(admin.get(f"/admin/waves/{OPEN}/qr.zip?loopback=1").data))
    index = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode("utf-8-sig"))))
    _check_index(index)
    assert {f"{r['unit_code']}.png" for r in index} <= set(archive.namelist())


def _check_index(rows: list[dict]) -> None:
    assert not any(_is_formula_text(v) for row in rows for v in row.values())
    names = {r["unit_code"]: r["name"] for r in rows}
    for code, name in FORMULA_NAMES.items():
        assert names[code] == "'" + name


def test_qr_export_index(city, tmp_path):
    invoke(city.test_cli_runner(), "qr", "export", "--wave", OPEN, "--out", str(tmp_path))
    with open(tmp_path / "index.csv", encoding="utf-8-sig", newline="") as f:
        _check_index(list(csv.DictReader(f)))


def _escaped(html: str, text: str) -> bool:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;") in html


def test_pages_escape_names_and_answers(city):
    admin = client_for(city, "admin")
    query = select(Response).where(Response.response_key.like("EVIL-%")).order_by(Response.response_key)
    evil = db.session.scalars(query).all()
    evil[0].review_status, evil[0].flags = "flagged", ["speeder"]  # in the review queue, with its unit's name
    db.session.commit()
    pages = {
        "response": admin.get(f"/admin/waves/{WAVE}/responses/{evil[1].id}").get_data(as_text=True),
        "flagged response": admin.get(f"/admin/waves/{WAVE}/responses/{evil[0].id}").get_data(as_text=True),
        "review": admin.get(f"/admin/waves/{WAVE}/review?queue=all").get_data(as_text=True),
        "results": admin.get(f"/admin/waves/{WAVE}/results?level=town").get_data(as_text=True),
        "board": city.test_client().get(f"/board/{WAVE}").get_data(as_text=True),
    }
    evil[0].review_status, evil[0].flags = "clean", []
    db.session.commit()
    for name, html in pages.items():
        assert "<script>alert" not in html and "<img src=x" not in html, name
    assert _escaped(pages["response"], COMMENTS[1]) and _escaped(pages["flagged response"], COMMENTS[0])
    assert _escaped(pages["review"], FORMULA_NAMES["510701002"])
    for page in ("results", "board"):
        assert all(_escaped(pages[page], name) for name in MARKUP_NAMES.values()), page


@pytest.mark.parametrize("kind", ["quarterly", "interviews", "board"])
def test_pdfs_print_the_text_as_written(city, tmp_path, kind):
    """pdftotext reads back the literal text: nothing was taken for markup."""
    text = flat("".join(pdf_pages(build_report(get_wave(WAVE), kind, ISSUED), tmp_path)))
    expected = list(MARKUP_NAMES.values()) if kind == "board" else [*COMMENTS[:2], FORMULA_NAMES["510701002"]]
    for literal in expected:
        assert flat(literal) in text, (kind, literal)
    assert not re.search(r"'[=+@-]", text)  # the apostrophe is for spreadsheets only
