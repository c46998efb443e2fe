"""Every report kind built from the demo city 安澜市 (`flask demo seed`), read back with pdftotext.

The quarterly report and the board of 2026Q3 (closed, analysed), the interview notices of 2026Q3,
and the posters of a draft wave over one town. Edge cases (units without respondents, single-PSU
strata, …) are in test_reference_reports.py.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from weasyprint import HTML

from extensions import db
from models import ShortLink, Unit
from reports import data as report_data
from reports.build import build_report
from reports.formatting import cn_date, ci, num
from reports.model import concerns, concerns_chapter, interval_text, peer_groups, place_interval, totals
from reports.model import place as place_of
from reports.posters import qr_fetch, qr_url, render_posters_html
from reports.render import board_context, render_board_html, render_quarterly_html
from survey.links import format_code, read_token
from survey.qr import qr_png
from survey.results import wave_result
from survey.waves import get_wave, transition
from tests.reports.conftest import ISSUED, OFFICE, flat, invoke, pdf_pages

WAVE = "2026Q3-city"


@pytest.fixture(scope="module")
def quarterly(demo, tmp_path_factory):
    """(pages of text, PDF bytes, pages as laid out) of the demo's 2026Q3 quarterly report."""
    out = tmp_path_factory.mktemp("quarterly") / "q.pdf"
    result = invoke(demo.test_cli_runner(), "report", "build", "--wave", WAVE, "--kind", "quarterly",
                    "--out", str(out), "--date", ISSUED.isoformat())
    assert "已生成测评报告" in result.output
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF-")
    return pdf_pages(pdf, out.parent), pdf, pdf_pages(pdf, out.parent, layout=True)


@pytest.fixture(scope="module")
def result(demo):
    return wave_result(get_wave(WAVE))


def test_cover_names_scope_period_date_and_office(quarterly):
    pages = quarterly[0]
    cover = flat(pages[0])
    for text in ("安澜市2026年第三季度", "公众安全感和群众满意度调查", "测评报告", "2026年7月1日至2026年9月30日",
                 "2026年10月15日", OFFICE):
        assert text in cover, text
    assert "第1页" not in cover  # no page number on the cover


def test_every_page_after_the_cover_is_numbered(quarterly):
    pages = quarterly[0]
    total = len(pages)
    assert total > 10
    for i, page in enumerate(pages[1:], start=2):
        assert f"第 {i} 页 / 共 {total} 页" in page


def test_headings_in_order(quarterly):
    text = flat("".join(quarterly[0]))
    headings = ["一、总体情况", "二、各单位测评结果与排名", "三、图表", "问卷各题回答分布", "四、约谈名单",
                "五、群众反映的问题和影响安全感的因素", "六、群众意见和建议（摘录）", "附录测评方法说明"]
    positions = [text.index(h) for h in headings]
    assert positions == sorted(positions)


def test_summary_page_has_the_headline_figures_and_change(quarterly, result):
    summary = flat(quarterly[0][1])
    root = result.root
    assert f"{root.name}综合指数为{num(root.composite.estimate)}（95%置信区间{ci(root.composite)}）" in summary
    d = root.change.composite
    assert f"与上期（{num(d.previous)}）相比" in summary
    for key, e in root.indicators.items():
        assert num(e.estimate) in summary, key
    assert "2026年第二季度至2026年第三季度" in summary  # the trend covers both analysed waves
    assert "表2各类单位等次分布" in summary and "部门" in summary[summary.index("表2"):]
    assert "二、各单位测评结果与排名" in quarterly[0][2]  # the summary is one page


def test_every_unit_is_in_the_ranked_tables_with_its_figures(quarterly, result):
    pages, lines = quarterly[0], quarterly[2]
    start = next(i for i, p in enumerate(pages) if "二、各单位测评结果与排名" in p)
    end = next(i for i, p in enumerate(pages) if "三、图表" in p)
    tables = flat("".join(pages[start:end]))
    rows = [line for page in lines[start:end] for line in page.splitlines()]
    for g in peer_groups(result):
        assert g.title in tables
        for u in g.units:
            place = str(g.place(u)) if u.rank is not None else "—"
            figures = (u.name, num(u.composite.estimate), ci(u.composite), str(u.n), u.grade or "样本不足")
            at = [i for i, line in enumerate(rows) if line.split()[:1] == [place] and all(f in line for f in figures)]
            assert at, u.name
            if u.rank is not None:  # the rank interval, best first, under the place
                a, b = place_interval(u)
                assert rows[at[0] + 1].split()[:1] == [f"{a}–{b}" if a != b else str(a)], u.name


def test_interview_list_and_appendix(quarterly, result):
    text = flat("".join(quarterly[0]))
    listed = text[text.index("四、约谈名单"):text.index("五、群众反映的问题")]
    assert f"本期共{len(result.interview_list)}个单位" in listed
    assert "县（区）、乡镇（街道）、部门各组排名最后3名的单位（参加排名的单位少于6个的组不按名次列入）" in listed
    for entry in result.interview_list:
        unit = result.unit(entry.code)
        interval = interval_text(unit).replace(" ", "")
        why = (f"倒数第{entry.rank}名" + (f"，{interval}" if interval else "")) if entry.rank is not None else "样本不足"
        key = "；重点管理" if entry.escalation == "key_management" else ""
        assert f"{unit.name}（{why}；{num(unit.composite.estimate)}{key}）" in listed, unit.name
    appendix = text[text.index("附录测评方法说明"):]
    for phrase in ("迭代比例加权", "95%置信区间是什么意思", "为什么样本不足的单位不排名", "末3名概率", "少于30份",
                   "“位次区间”是什么意思", "位次区间是考虑抽样误差后，一个单位的名次有95%的把握落在的范围"):
        assert phrase in appendix, phrase


def test_chapter_five_concerns_and_drivers_for_the_city_and_every_county(quarterly, result, demo):
    """Chapter 五: for the city and each county, the shares of the concerns item, the items below the
    city and the key drivers, every figure as the analysis stored it."""
    spec = get_wave(WAVE).questionnaire_version.to_spec()
    text = flat("".join(quarterly[0]))
    chapter = text[text.index("五、群众反映的问题和影响安全感的因素"):text.index("六、群众意见和建议")]
    areas = concerns_chapter(result, spec)
    assert [a.unit.kind for a in areas] == ["city"] + ["county"] * 4
    for a in areas:
        assert a.unit.name in chapter and a.concerns and a.drivers
        for c in a.concerns:
            assert f"{c.label}{num(c.share.estimate)}{ci(c.share)}" in chapter
        for d in a.drivers:
            assert d.text in chapter and f"{d.estimate:.3f}" in chapter  # a long question wraps in its cell
        for w in a.weak_items:
            assert flat(w.sentence) in chapter
    assert any(a.driver_sentence and flat(a.driver_sentence) in chapter for a in areas)
    assert "没有特别希望解决的问题" not in chapter  # an option that names no problem is no concern


def test_charts_carry_their_labels_as_text(quarterly, result, demo):
    """Chart text stays text (svg.fonttype none), in the report's CJK font: every unit is named in a
    dot plot, every option of every question in its distribution chart."""
    pages = quarterly[0]
    text = flat("".join(pages))
    charts = text[text.index("三、图表"):text.index("四、约谈名单")]
    assert "乡镇（街道）综合指数及95%置信区间" in charts
    assert "综合指数（点为估计值，横线为95%置信区间）" in charts
    for u in result.units[1:]:
        assert u.name in charts, u.name
    spec = get_wave(WAVE).questionnaire_version.to_spec()
    for item in spec.items:
        if item.is_choice:
            assert flat(item.text)[:12] in charts, item.key  # captions stand two abreast: their lines interleave
            for option in item.options:
                assert flat(option.label) in charts, (item.key, option.code)
    share = result.distributions["safety"]["A"]
    assert f"{100 * share['share']:.1f}%({share['count']}人)" in charts


def test_table_headers_repeat_and_rows_never_split(demo):
    """The village table spans pages: its header is on every one of them, and no row is cut in two."""
    html = render_quarterly_html(report_data.load(get_wave(WAVE), "quarterly", ISSUED))
    document = HTML(string=html).render()
    row_pages: dict[int, set[int]] = {}
    header_pages: set[int] = set()
    body_pages: set[int] = set()

    def walk(box, page, in_header=False, headed=False):
        name = type(box).__name__
        if name == "TableBox":
            headed = any(getattr(group, "is_header", False) for group in box.children)
        if name == "TableRowGroupBox":
            in_header = bool(box.is_header)
        element = getattr(box, "element", None)
        if name == "TableRowBox" and element is not None:
            if in_header:
                header_pages.add(page)
            else:
                row_pages.setdefault(id(element), set()).add(page)
                if headed and element.get("class") != "group-head":
                    body_pages.add(page)
        for child in getattr(box, "children", ()):
            walk(child, page, in_header, headed)

    for number, page in enumerate(document.pages):
        walk(page._page_box, number)
    split = [pages for pages in row_pages.values() if len(pages) > 1]
    assert not split, f"{len(split)} table rows split across pages"
    assert len(body_pages) > 5
    assert body_pages <= header_pages  # every page with table rows repeats its header


# ---------------------------------------------------------------- interview notices


@pytest.fixture(scope="module")
def interviews(demo, tmp_path_factory):
    pdf = build_report(get_wave(WAVE), "interviews", ISSUED)
    return pdf_pages(pdf, tmp_path_factory.mktemp("interviews"))


def test_interview_list_then_one_notice_per_listed_unit(interviews, result, demo):
    spec = get_wave(WAVE).questionnaire_version.to_spec()
    listed = result.interview_list
    assert len(listed) >= 10
    notices = [p for p in interviews if "约谈通知书" in p and "综治办〔" in p]
    assert len(notices) == len(listed)
    assert interviews[-len(notices):] == notices  # each notice is one page, none spills over
    listing = flat("".join(p for p in interviews if p not in notices))
    assert "约谈名单" in listing and OFFICE in listing
    # Who can be listed, as the rule is (issue 13): the ranked kinds, groups of min_group or more.
    assert "县（区）、乡镇（街道）、部门按同一上级、同一类别分组排名" in listing
    assert "参加排名的单位少于6个的组不按名次列入" in listing and "这些类别中有效答卷不足30份" in listing
    for i, (entry, page) in enumerate(zip(listed, notices), start=1):
        unit = result.unit(entry.code)
        text = flat(page)
        assert f"〔{WAVE[:4]}〕{WAVE[4:6]}-{i:03d}号" in text
        assert f"{unit.name}：" in text
        assert unit.name in listing
        if entry.reason == "bottom_n":
            assert f"综合指数为{num(unit.composite.estimate)}分（95%置信区间{ci(unit.composite)}" in text
            assert f"参加排名的{unit.group_size}个单位中居倒数第{entry.rank}名" in text
        else:
            assert f"有效答卷仅{unit.n}份，少于参加排名所需的30份" in text
        assert ("按规定列为重点管理单位" in text) == (entry.escalation == "key_management")
        for e in unit.indicators.values():
            assert num(e.estimate) in text
        assert "整改方案（由被约谈单位填写）" in text and "整改时限" in text
        assert f"复查时间：{cn_date(ISSUED + timedelta(days=30))}（通知书发出之日起30日）" in text
        # 群众反映最集中的问题: the unit's weak items and its top concerns, each in one sentence
        found = concerns(unit, spec)
        assert "群众反映最集中的问题" in text
        for w in found.weak_items:
            assert flat(w.sentence) in text
        for c in found.top:
            assert flat(c.sentence) in text
    assert sum(bool(concerns(result.unit(e.code), spec).top) for e in listed) == len(listed)
    assert any(concerns(result.unit(e.code), spec).weak_items for e in listed)


# ---------------------------------------------------------------- the 公示 board


def test_board_pdf_shows_every_unit_in_its_colour(demo, result, tmp_path):
    wave = get_wave(WAVE)
    pages = pdf_pages(build_report(wave, "board", ISSUED), tmp_path)
    text = flat("".join(pages))
    assert "安澜市2026年第三季度平安建设测评结果公示" in text
    min_n = wave.questionnaire_version.to_spec().ranking.min_n
    graded = [u for u in result.units[1:] if u.n >= min_n]
    assert f"蓝平安{sum(1 for u in graded if u.color == 'blue')}个" in text
    sums = totals(result)
    assert f"有效答卷{sums.responses}份（辖区居民{sums.residents}份，部门{sums.departments}份）" in text
    for u in result.units[1:]:
        assert (u.name in text) == (u.n > 0), u.name
    html = render_board_html(report_data.load(wave, "board", ISSUED))
    for u in result.units:  # every tile is painted with its unit's colour, and names its grade; 样本不足 under min_n
        if u.n == 0:
            continue
        tile = f'<div class="tile tile-{(u.color if u.n >= min_n else None) or "none"}'
        at = html.index(f'<div class="name">{u.name}</div>', html.index("board-head"))
        assert html.rfind(tile, 0, at) == html.rfind('<div class="tile', 0, at), u.name
        assert f'<div class="value">{num(u.composite.estimate)}</div>' in html[at:at + 200]
        grade = html[at:at + 300].split('<div class="grade">', 1)[1].split("</div>", 1)[0]
        assert (grade == "样本不足") == (u.n < min_n), u.name
        if u.code == result.root.code:
            continue  # the city's tile has no place
        # The place line: a village (not a ranked kind) with enough answers is not 样本不足 (issue 13).
        place = html[at:at + 400].split('<div class="place">', 1)[1].split("</div>", 1)[0]
        if u.rank is not None:
            assert place == f"组内第 {place_of(u)} 名 / 共 {u.group_size} 名", u.name
        else:
            assert place == ("样本不足，未排名" if u.n < min_n else "不参加排名"), u.name
    villages = [u for u in result.units if u.kind == "village"]
    assert any(u.n >= min_n for u in villages) and any(u.n < min_n for u in villages)
    assert "村（社区）只公示指数和等次，不参加排名" in text


# ---------------------------------------------------------------- posters and door cards


@pytest.fixture(scope="module")
def town_wave(demo):
    """A draft wave over one town of the demo (posters need no results)."""
    town = db.session.scalar(select(Unit).where(Unit.kind == "town").order_by(Unit.code))
    invoke(demo.test_cli_runner(), "wave", "create", "--slug", "posters-town", "--questionnaire", "safety",
           "--scope", town.code, "--period", "2027Q1")
    return get_wave("posters-town")


def test_posters_one_page_per_unit_then_a_sheet_of_cards(town_wave, tmp_path):
    pdf = build_report(town_wave, "posters", ISSUED)
    pages = pdf_pages(pdf, tmp_path)
    units = town_wave.scope.subtree()
    assert len(pages) == 2 * len(units) and len(units) >= 3
    codes = {(link.unit.code, link.mode): link.code for link in db.session.scalars(select(ShortLink))}
    for unit, poster, sheet in zip(sorted(units, key=lambda u: u.path), pages[:len(units)], pages[len(units):]):
        text, cards = flat(poster), flat(sheet)
        assert unit.name in text and "公众安全感和群众满意度调查" in text
        assert f"问卷号码{format_code(codes[(unit.code, 'qr')])}" in text
        assert "用手机微信或相机扫描上方二维码" in text
        assert f"输入问卷号码{format_code(codes[(unit.code, 'qr')])}" in text and "pingan.example.cn/s" in text
        assert cards.count(format_code(codes[(unit.code, "door")])) == 10
        assert cards.count(unit.name) >= 10


def test_a_sheet_draws_its_one_card_ten_times_and_no_card_page_is_left(town_wave):
    """reports.posters.impose_cards: the card laid out once is a form XObject drawn ten times on its
    sheet, in the ten cells of 90 × 52 mm; every page left is A4 and the unit's card is on its sheet."""
    from pypdf import PdfReader

    from reports.posters import CARD_MM, PT_PER_MM

    reader = PdfReader(io.BytesIO(build_report(town_wave, "posters", ISSUED)))
    units = town_wave.scope.subtree()
    assert len(reader.pages) == 2 * len(units)
    for page in reader.pages:
        assert [round(float(x)) for x in page.mediabox] == [0, 0, 595, 842]
    forms = []
    for sheet in reader.pages[len(units):]:
        content = sheet.get_contents().get_data().decode("latin-1")
        placed = re.findall(r"1 0 0 -1 ([\d.]+) ([\d.]+) cm\n/(card\d+) Do", content)
        assert len(placed) == 10 and len({name for _, _, name in placed}) == 1
        xs = sorted({round(float(x) / PT_PER_MM, 1) for x, _, _ in placed})
        ys = sorted({round(float(y) / PT_PER_MM, 1) for _, y, _ in placed})
        assert xs == [15.0, 15.0 + CARD_MM[0]] and len(ys) == 5 and ys[1] - ys[0] == CARD_MM[1]
        form = sheet["/Resources"]["/XObject"]["/" + placed[0][2]].get_object()
        assert form["/Subtype"] == "/Form" and [round(float(x) / PT_PER_MM) for x in form["/BBox"]] == [0, 0, 90, 52]
        forms.append(placed[0][2])
    assert len(set(forms)) == len(units)  # one card per unit, its own


def test_poster_qr_codes_carry_the_signed_link_of_their_unit_and_mode(town_wave):
    data = report_data.load(town_wave, "posters", ISSUED)
    html = render_posters_html(data)
    transition(town_wave, "open")  # a link of a draft wave does not open yet
    for p in data.posters:
        for url, mode in ((p.url, "qr"), (p.door_url, "door")):
            assert url.startswith("https://pingan.example.cn/s/")
            link = read_token(url.rsplit("/", 1)[1])
            assert (link.wave.slug, link.unit.code, link.mode) == ("posters-town", p.code, mode)
            assert f'src="{qr_url(url)}"' in html and qr_fetch(qr_url(url)) == qr_png(url)


def test_the_demo_list_calls_in_few_of_the_ranked_units_and_no_village(result):
    """The list is something an office can hand out: no village (villages are reported, never ranked),
    no peer group too small to have a bottom 3, and bottom_n of a group at most."""
    ranked = [u for u in result.units if u.rank is not None]
    kinds = {u.code: u.kind for u in result.units}
    listed = result.interview_list
    assert not any(kinds[e.code] == "village" for e in listed)
    assert not any(u.kind == "village" for u in ranked) and any(u.kind == "village" for u in result.units)
    by_group: dict[str, int] = {}
    for e in listed:
        if e.reason == "bottom_n":
            u = result.unit(e.code)
            assert u.group_size >= 6 and e.rank <= 3  # min_group = 2 × bottom_n
            by_group[u.peer_group] = by_group.get(u.peer_group, 0) + 1
    assert all(n <= 3 for n in by_group.values())
    # Issue 13: at most a quarter of the ranked units. On the demo: 3 of the 12 市直部门 and 3 of each
    # county's 6–8 towns, and none of the 4 counties or of a county's 5 departments (groups under
    # min_group): 15 of 64 ranked units.
    assert len(ranked) >= 60
    assert len(listed) <= 0.25 * len(ranked)


def test_one_total_on_every_page_departments_apart(quarterly, result, demo, tmp_path):
    """有效答卷 is one figure (reports.model.totals): the stored count of responses used in the indices,
    the residents of the geographic units plus the departments' respondents, printed the same way on
    the report's cover and method appendix, the board and the XLSX."""
    from survey.results import stored_result

    wave = get_wave(WAVE)
    sums = totals(result)
    assert sums.responses == stored_result(wave).n_responses and sums.residents == result.root.n and sums.departments > 0
    cover, text = flat(quarterly[0][0]), flat("".join(quarterly[0]))
    assert f"有效答卷{sums.responses}份（辖区居民{sums.residents}份、部门{sums.departments}份）" in cover
    assert f"有效答卷共{sums.responses}份（辖区居民{sums.residents}份，计入各地区的指数；部门{sums.departments}份" in text
    assert f"{result.root.name}的各项指数和有效样本只含辖区居民（{sums.residents}份）" in text
    board = flat("".join(pdf_pages(build_report(wave, "board", ISSUED), tmp_path)))
    assert f"有效答卷{sums.responses}份（辖区居民{sums.residents}份，部门{sums.departments}份）" in board
