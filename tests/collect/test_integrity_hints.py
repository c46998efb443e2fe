"""数据可信度提示: a unit whose sheets include a coached batch (one day, all 安全/满意, one comment
word for word) is named on the review page with the figures behind it, after a real analysis run."""

from __future__ import annotations

import csv

from extensions import db
from admin.review import integrity_lines
from tests.admin.console import FIXTURES, load_city, make_accounts, text
from tests.collect.helpers import invoke, signed_in

VILLAGE = "510701001001"
WAVE = "2026Q4-city"


def _coached_file(tmp_path) -> str:
    with open(FIXTURES / "responses_w2.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    for i in range(40):  # a coached batch within one evening
        rows.append({
            **{k: "" for k in header}, "response_id": f"C{i:03d}", "unit_code": VILLAGE, "psu": "",
            "submitted_at": f"2026-11-02T19:{i:02d}:00+08:00", "safety": "A", "sat_police": "A", "sat_court": "A",
            "sat_procuratorate": "A", "sat_justice": "A", "sat_government": "A", "sex": "M", "age_group": "45-59",
            "comment": "感谢党和政府，各方面都非常满意", "mode": "qr",
        })
    path = tmp_path / "coached.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def test_the_review_page_names_a_coached_unit_with_its_figures(make_app, tmp_path):
    app = make_app()
    with app.app_context():
        runner = app.test_cli_runner()
        load_city(runner)
        make_accounts(runner)
        invoke(runner, "wave", "create", "--slug", WAVE, "--questionnaire", "safety", "--scope", "510700", "--period", "2026Q4")
        invoke(runner, "wave", "open", WAVE)
        invoke(runner, "responses", "import", "--wave", WAVE, _coached_file(tmp_path))
        invoke(runner, "analysis", "run", "--wave", WAVE)
        admin = signed_in(app, "admin")
        page = text(admin.get(f"/admin/waves/{WAVE}/review?queue=all"))
        assert "数据可信度提示" in page
        hint = page[page.index("数据可信度提示"):]
        assert f"（{VILLAGE}）" in hint and "同类单位通常不超过" in hint
        results = text(admin.get(f"/admin/waves/{WAVE}/results"))
        assert "数据可信度提示" in results and f"（{VILLAGE}）" in results[results.index("数据可信度提示"):]
        # a county of another part of the city does not see the hint
        other = signed_in(app, "west")
        assert VILLAGE not in text(other.get(f"/admin/waves/{WAVE}/review?queue=all"))
        db.session.remove()
        db.engine.dispose()


def test_the_figures_read_as_plain_chinese():
    lines = integrity_lines({
        "flags": ["near_duplicates", "same_text", "mode_gap"],
        "near_duplicate_share": 0.42, "near_duplicate_null_p99": 0.2, "same_text_share": 0.3, "same_text_null_p99": 0.02,
        "same_text_n": 12, "mode_gap": {"diff": 8.5, "se": 2.0, "ci_low": 4.6, "ci_high": 12.4, "n_qr": 40, "n_other": 30, "peer_diff": 1.0, "z": 3.8, "flag": True},
    })
    assert lines == [
        "近似重复答卷占 42%（同类单位通常不超过 20%）",
        "12 份答卷的意见文字完全相同，占 30%（同类单位通常不超过 2%）",
        "扫码答卷（40 份）比入户、电话、纸质答卷（30 份）平均高 +8.5 分（95%置信区间 +4.6 至 +12.4；同类单位平均差 +1.0 分）",
    ]
    assert integrity_lines({"flags": []}) == [] and integrity_lines(None) == []
