"""The pure parts of the reports: formatting, the report's shape, and the charts (no database)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest

from analysis import Difference, Estimate, InterviewEntry, UnitResult, WaveResult
from analysis.spec import Grade
from reports import charts
from reports.data import short_period_label
from reports.formatting import ci, change, change_words, cn_date, cn_datetime, num, pct, signed
from reports.model import (
    Listed,
    department_group_name,
    indistinct_note,
    interval_text,
    interview_list,
    peer_groups,
    place,
    place_interval,
    place_text,
    sections,
    standing,
    totals,
)

GRADES = (Grade(90, "优秀", "blue"), Grade(80, "良好", "blue"), Grade(70, "合格", "yellow"), Grade(0, "不合格", "red"))


def unit(code, name, kind, parent, est, rank=None, size=None, n=100, color="blue", grade="良好", flags=()):
    composite = Estimate.missing() if est is None else Estimate.from_estimate(est, 1.0)
    return UnitResult(code, name, kind, parent, n, float(n), 0, {}, composite, rank, size, None,
                      grade=grade, color=color, flags=flags)


def city() -> WaveResult:
    units = (
        unit("1", "示例市", "city", None, 85.0),
        unit("11", "东区", "county", "1", 84.0, rank=2, size=2),
        unit("12", "西县", "county", "1", 80.0, rank=1, size=2),
        unit("19", "示例市公安局", "department", "1", 88.0, rank=1, size=1),
        unit("111", "甲镇", "town", "11", 70.5, rank=1, size=2, color="yellow", grade="合格"),
        unit("112", "乙镇", "town", "11", 90.2, rank=2, size=2),
        unit("113", "丙镇", "town", "11", 99.0, n=12, flags=("insufficient_sample",)),
        unit("114", "丁镇", "town", "11", None, n=0, color=None, grade=None, flags=("insufficient_sample",)),
        unit("121", "戊镇", "town", "12", 81.0, rank=1, size=1),
    )
    listed = (InterviewEntry("12", "bottom_n", 1, None), InterviewEntry("11", "bottom_n", 2, "key_management"),
              InterviewEntry("19", "bottom_n", 1, None), InterviewEntry("111", "bottom_n", 1, None),
              InterviewEntry("112", "bottom_n", 2, None), InterviewEntry("113", "insufficient_sample", None, None),
              InterviewEntry("114", "insufficient_sample", None, "key_management"), InterviewEntry("121", "bottom_n", 1, None))
    return WaveResult(units, listed)


def test_numbers_read_the_chinese_way():
    e = Estimate.from_estimate(83.648, 0.32)
    assert num(83.648) == "83.65" and num(None) == "—" and num(float("nan")) == "—"
    assert ci(e) == "83.0–84.3" and ci(Estimate.missing()) == "—"
    assert pct(0.853) == "85%" and pct(None) == "—"
    assert signed(2.46) == "+2.5" and signed(-1.34) == "−1.3" and signed(0.01) == "0.0"
    up = Difference(2.49, 0.5, 1.5, 3.5, True, 81.16)
    flat_change = Difference(-0.4, 0.6, -1.6, 0.8, False, 80.0)
    assert change(up) == "+2.5*" and change(flat_change) == "−0.4" and change(None) == "—"
    assert change_words(up) == "上升 2.5（显著）" and change_words(flat_change) == "下降 0.4（不显著）"
    assert cn_date(date(2026, 10, 5)) == "2026年10月5日"
    from datetime import datetime, timezone

    assert cn_datetime(datetime(2026, 10, 5, 16, 3, tzinfo=timezone.utc)) == "2026年10月6日 00:03"


def test_period_labels_for_chart_axes():
    assert short_period_label("2026Q3") == "2026年\n三季度"
    assert short_period_label("2026M07") == "2026年\n7月"
    assert short_period_label("2026H1") == "2026年\n上半年"
    assert short_period_label("2026") == "2026年"


def test_peer_groups_best_first_unranked_last_and_places():
    groups = peer_groups(city())
    assert [g.title for g in groups] == ["示例市各县（区）", "东区各乡镇（街道）", "西县各乡镇（街道）", "示例市市直部门"]
    towns = groups[1]
    # 丁镇 has no respondents: not a result, so in no group (docs/method.md).
    assert [u.name for u in towns.units] == ["乙镇", "甲镇", "丙镇"]
    assert [towns.place(u) for u in towns.units] == [1, 2, None]
    assert [place(u) for u in towns.units] == [1, 2, None]
    assert [place_text(u) for u in towns.units] == ["第 1 名 / 共 2 名", "第 2 名 / 共 2 名", "不排名"]
    assert towns.size == 2 and [u.name for u in towns.unranked] == ["丙镇"]
    assert [s.label for s in sections(groups)] == ["县（区）", "乡镇（街道）", "部门"]


def test_a_standing_row_says_why_a_peer_has_no_place():
    """A town under min_n is 样本不足; a village is not ranked at all (its kind is not in
    ranking.kinds), and its account's standing must not call its peers 样本不足."""
    villages = (unit("1111", "一村", "village", "111", 80.0), unit("1112", "二村", "village", "111", 75.0))
    result = WaveResult(city().units + villages, city().interview_list)
    towns = standing(result, "111")
    assert [(r.place, r.unranked) for r in towns.rows] == [(1, None), (2, None), (None, "insufficient_sample")]
    assert towns.rows[1].own and towns.rows[1].to_dict()["unranked"] is None
    village = standing(result, "1112")
    assert [(r.place, r.unranked) for r in village.rows] == [(None, "kind_not_ranked")] * 2


@pytest.mark.parametrize(("parent", "title"), [("安澜市", "安澜市市直部门"), ("澜江区", "澜江区区直部门"),
                                               ("青石县", "青石县县直部门"), ("开发区管委会", "开发区管委会直属部门")])
def test_department_groups_are_named_as_offices_name_them(parent, title):
    assert department_group_name(unit("9", parent, "county", "1", 80.0)) == title


def test_interview_list_keeps_the_stored_order_and_numbers_it():
    result = city()
    listed = interview_list(result, peer_groups(result), "2026Q3")
    assert [x.number for x in listed][:2] == ["2026Q3-001", "2026Q3-002"]
    assert [x.entry.code for x in listed] == [e.code for e in result.interview_list if e.code != "114"]  # 丁镇: n = 0
    assert listed[1].action_label == "约谈·重点管理" and listed[0].action_label == "约谈"
    assert listed[5].reason_label == "样本不足" and listed[5].group.title == "东区各乡镇（街道）"


def test_dot_plots_pack_groups_and_split_a_large_one():
    small = [unit(f"a{i}", f"甲{i}", "town", "1", 80 + i) for i in range(3)]
    large = [unit(f"b{i}", f"乙{i}", "town", "2", 70 + i / 10) for i in range(50)]
    tiny = [unit(f"c{i}", f"丙{i}", "town", "3", 90) for i in range(2)]
    parts = charts.dot_plot_blocks([("甲组", small), ("乙组", large), ("丙组", tiny)], max_rows=42)
    for part in parts:
        assert sum(len(b.units) + 1 for b in part) <= 42
    titles = [b.title for part in parts for b in part]
    assert titles == ["甲组", "乙组", "乙组（续）", "丙组"]
    assert [u.code for part in parts for b in part for u in b.units] == [u.code for u in small + large + tiny]


def test_dot_plot_names_every_unit_in_the_cjk_font():
    result = city()
    blocks = charts.dot_plot_blocks([(g.title, g.units) for g in peer_groups(result)])
    assert len(blocks) == 1
    chart = charts.ranked_dot_plot(blocks[0], GRADES, frozenset({"111"}))
    svg = chart.svg
    assert "font-family: 'Noto Sans CJK SC'" in svg
    texts = re.findall(r">([^<>]+)</text>", svg)
    for u in result.units[1:]:
        assert (u.name in texts) == (u.n > 0), u.name  # 丁镇 (no respondents) has no row
    assert "优秀" in texts and "合格" in texts  # the grade bands are named
    assert chart.height_in == pytest.approx(11 * charts.ROW_IN + 0.55 + charts.LEGEND_IN)  # 4 headings, 7 units, the legend
    for mark in ("参加排名", "样本不足，不排名", "95%置信区间", "名称红色加粗：列入约谈名单", "优秀、良好区间", "合格区间", "不合格区间"):
        assert mark in texts, mark  # a legend entry for every mark


def test_dot_plot_marks_a_village_as_unranked_not_short_of_answers():
    """Villages are not a ranked kind (issue 13): one with enough answers is a hollow diamond, 不参加排名的类别,
    not a hollow dot 样本不足; the legend names the marks drawn and no other."""
    villages = [unit("1111", "甲村", "village", "111", 85.0, n=60), unit("1112", "乙村", "village", "111", 80.0, n=12,
                                                                          grade=None, color=None)]
    svg = charts.ranked_dot_plot([charts.DotBlock("甲镇各村（社区）", tuple(villages))], GRADES, min_n=30).svg
    texts = re.findall(r">([^<>]+)</text>", svg)
    assert "不参加排名的类别" in texts and "样本不足，不排名" in texts and "参加排名" not in texts
    assert [charts.dot_mark(u, 30) for u in villages] == [charts.UNRANKED, charts.SHORT]
    only_enough = charts.ranked_dot_plot([charts.DotBlock("组", (villages[0],))], GRADES, min_n=30).svg
    texts = re.findall(r">([^<>]+)</text>", only_enough)
    assert "不参加排名的类别" in texts and "样本不足，不排名" not in texts
    ranked = unit("111", "甲镇", "town", "11", 70.5, rank=1, size=2)
    assert charts.dot_mark(ranked, 30) == charts.RANKED and charts.dot_mark(villages[0], None) == charts.SHORT


def test_dot_plot_panels_share_one_axis():
    low = [unit(f"a{i}", f"甲{i}", "town", "1", 60 + i) for i in range(3)]
    high = [unit(f"b{i}", f"乙{i}", "town", "2", 90 + i) for i in range(3)]
    x_range = charts.composite_range(low + high)
    assert x_range == (56, 96)  # 60 − 1.96 − 1.5 and 92 + 1.96 + 1.5, to whole points
    ticks = []
    for units in (low, high):
        svg = charts.ranked_dot_plot([charts.DotBlock("组", tuple(units))], GRADES, frozenset(), x_range).svg
        ticks.append([t for t in re.findall(r">([^<>]+)</text>", svg) if t.isdigit()])
    assert ticks[0] == ticks[1] and "60" in ticks[0] and "90" in ticks[0]  # the same scale in both panels


def test_trend_and_distribution_charts():
    trend = charts.trend_chart(
        ["2026年\n二季度", "2026年\n三季度"],
        [Estimate.from_estimate(81.16, 0.4), Estimate.from_estimate(83.65, 0.32)],
        {"安全感指数": [Estimate.from_estimate(80.9, 0.5), None]},
    )
    texts = re.findall(r">([^<>]+)</text>", trend.svg)
    assert {"81.16", "83.65", "安全感指数", "综合指数"} <= set(texts)
    dist = charts.distribution_chart(
        [charts.OptionShare("安全", 0.442, 2452, 100), charts.OptionShare("说不清", None, 0, None),
         charts.OptionShare("$1 <b>x</b> & y", 0.1, 3, 0)], scored=True)
    texts = re.findall(r">([^<>]+)</text>", dist.svg)
    assert "44.2%(2452人)" in texts and "—" in texts
    assert "$1 &lt;b&gt;x&lt;/b&gt; &amp; y" in texts  # a label is text: escaped, and no TeX
    assert dist.data_uri.startswith("data:image/svg+xml;base64,")


def with_rank_ci(u: UnitResult, lo: int, hi: int) -> UnitResult:
    """The unit with its stored rank interval (JSON order, 1 = lowest)."""
    return replace(u, rank_ci=(lo, hi))


def test_rank_intervals_read_in_peoples_order_with_the_plain_note():
    # A group of 12: the lowest (rank 1) may truly be anywhere from rank 1 to rank 5 (JSON order).
    low = with_rank_ci(unit("a", "甲镇", "town", "1", 70.0, rank=1, size=12), 1, 5)
    assert place(low) == 12 and place_interval(low) == (8, 12)  # [G − hi + 1, G − lo + 1]
    assert interval_text(low) == "位次区间 8–12" and place_text(low) == "第 12 名 / 共 12 名"
    fourth = unit("d", "丁镇", "town", "1", 74.0, rank=4, size=12)
    fifth = unit("e", "戊镇", "town", "1", 75.0, rank=5, size=12)
    from reports.model import PeerGroup

    group = PeerGroup("town", unit("1", "东区", "county", None, 80.0), "东区各乡镇（街道）", (fifth, fourth, low))
    assert indistinct_note(low, 3, group) == "与倒数第 4、5 名（丁镇、戊镇）在统计上无法区分"
    assert indistinct_note(low, 3) == "与倒数第 4、5 名在统计上无法区分"
    sure = with_rank_ci(unit("b", "乙镇", "town", "1", 60.0, rank=1, size=12), 1, 3)
    assert indistinct_note(sure, 3) is None and interval_text(sure) == "位次区间 10–12"  # certainly among the bottom 3
    alone = with_rank_ci(unit("c", "丙镇", "town", "1", 60.0, rank=1, size=1), 1, 1)
    assert interval_text(alone) == "位次区间 1" and place_text(alone) == "第 1 名 / 共 1 名"
    unranked = unit("x", "新镇", "town", "1", 99.0, n=12, flags=("insufficient_sample",))
    assert place_interval(unranked) is None and interval_text(unranked) == "" and indistinct_note(unranked, 3) is None
    line = Listed("2026Q3-001", InterviewEntry("a", "bottom_n", 1, None, (1, 5)), low, group)
    assert line.bottom_text == "倒数第 1 名（共 12 名）"
    assert line.interval_words == "考虑抽样误差后，名次有 95% 的把握在本组第 8 名到第 12 名之间"
    assert line.note(3) == "与倒数第 4、5 名（丁镇、戊镇）在统计上无法区分"


def test_totals_count_departments_apart_from_the_geographic_units():
    result = city()  # 示例市 n = 100 (its residents), one department 示例市公安局 n = 100
    sums = totals(result, rejected=7)
    assert (sums.responses, sums.residents, sums.departments, sums.rejected) == (200, 100, 100, 7)
    assert sums.text == "有效答卷 200 份（辖区居民 100 份，部门 100 份）"
    assert sums.residents_text == "辖区居民有效答卷 100 份（不含部门）"
    no_departments = WaveResult(tuple(u for u in result.units if u.kind != "department"))
    assert totals(no_departments).text == "有效答卷 100 份"
