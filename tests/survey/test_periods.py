"""survey.periods.parse_period: one parser for codes and for periods as staff type them."""

import pytest

from survey.periods import parse_period, period_label


@pytest.mark.parametrize(
    "typed, code, start, end, label",
    [
        ("2027年第一季度", "2027Q1", "2027-01-01", "2027-03-31", "2027年第一季度"),
        ("2027年一季度", "2027Q1", "2027-01-01", "2027-03-31", "2027年第一季度"),
        ("2027年第4季度", "2027Q4", "2027-10-01", "2027-12-31", "2027年第四季度"),
        (" 2027 年 第三季度 ", "2027Q3", "2027-07-01", "2027-09-30", "2027年第三季度"),
        ("２０２７年第二季度", "2027Q2", "2027-04-01", "2027-06-30", "2027年第二季度"),
        ("2027年上半年", "2027H1", "2027-01-01", "2027-06-30", "2027年上半年"),
        ("2027年下半年", "2027H2", "2027-07-01", "2027-12-31", "2027年下半年"),
        ("2027年7月", "2027M07", "2027-07-01", "2027-07-31", "2027年7月"),
        ("2027年02月", "2027M02", "2027-02-01", "2027-02-28", "2027年2月"),
        ("2027年十二月", "2027M12", "2027-12-01", "2027-12-31", "2027年12月"),
        ("2027年", "2027", "2027-01-01", "2027-12-31", "2027年"),
        ("2027年度", "2027", "2027-01-01", "2027-12-31", "2027年"),
        ("2027Q1", "2027Q1", "2027-01-01", "2027-03-31", "2027年第一季度"),
        ("2027q1", "2027Q1", "2027-01-01", "2027-03-31", "2027年第一季度"),
        ("2027H2", "2027H2", "2027-07-01", "2027-12-31", "2027年下半年"),
        ("2027M07", "2027M07", "2027-07-01", "2027-07-31", "2027年7月"),
    ],
)
def test_codes_and_chinese_periods_parse_to_one_canonical_code(typed, code, start, end, label):
    p = parse_period(typed)
    assert (p.code, p.start.isoformat(), p.end.isoformat(), p.label) == (code, start, end, label)
    assert parse_period(p.label).code == code  # the label reads back as the same period
    assert period_label(p.code) == label


@pytest.mark.parametrize(
    "typed, words",
    [
        ("2027年第五季度", "格式不对"),
        ("2027年第零季度", "格式不对"),
        ("2027年中半年", "格式不对"),
        ("2027年13月", "月份应在 1 到 12 之间"),
        ("2027M13", "月份应在 01 到 12 之间"),
        ("1999年第一季度", "年份应在 2000 到 2100 之间"),
        ("27年第一季度", "格式不对"),
        ("第一季度", "格式不对"),
        ("2027-Q1", "格式不对"),
        ("", "格式不对"),
    ],
)
def test_malformed_periods_are_refused_in_chinese(typed, words):
    with pytest.raises(ValueError) as e:
        parse_period(typed)
    assert words in str(e.value) and "Traceback" not in str(e.value)
    if words == "格式不对":
        assert "2027年第一季度" in str(e.value)  # the message shows how to write it
