"""The questionnaire features on the resident's form, end to end (docs/formats.md): a `multiple`
item (at most K), `show_if` (checked on the server both ways), `required: false`, screening (the
closing page, the stored status, progress and results), the honeypot, English from the browser's
Accept-Language, the 大字 switch, the 问卷号码 prompt and the thank-you page's next steps."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

import caches
from extensions import db
from models import Wave
from survey.progress import wave_progress
from survey.results import load_wave_data
from tests.conftest import DATA
from tests.survey.resident import (
    VILLAGE,
    form_data,
    hidden_fields,
    link,
    make_resident_app,
    responses,
)

WAVE = "2026Q3-features"
# An eligible resident who feels safe: `concerns` does not apply.
SAFE = {"resident": "Y", "safety": "B", "sat_police": "C", "improved": "S", "sex": "F", "age_group": "45-59"}
# One who does not: `concerns` applies and is required.
UNSAFE = {**SAFE, "safety": "D", "concerns": ["fraud", "theft"]}


@pytest.fixture
def features_app(make_app):
    app = make_resident_app(make_app, SPEEDER_SECONDS=0)
    with app.app_context():
        runner = app.test_cli_runner()
        for args in (
            ["units", "import", str(DATA / "units.csv"), "--population", str(DATA / "population.csv")],
            ["questionnaire", "load", str(DATA / "questionnaire_features.yaml")],
            ["wave", "create", "--slug", WAVE, "--questionnaire", "features", "--scope", "619900", "--period", "2026Q3"],
            ["wave", "open", WAVE],
        ):
            result = runner.invoke(args=args)
            assert result.exit_code == 0, result.output
        yield app
        db.session.remove()
        db.engine.dispose()


def path(**query) -> str:
    return link(VILLAGE, slug=WAVE) + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def post(client, answers: dict, url: str | None = None, extra: dict | None = None, **kwargs):
    url = url or path()
    page = client.get(url, **kwargs)
    assert page.status_code == 200
    data = {**form_data(answers, hidden_fields(page.get_data(as_text=True))), **(extra or {})}
    return client.post(url, data=data, **kwargs)


def fieldset(body: str, key: str) -> str:
    return re.search(rf'<fieldset[^>]* id="q-{key}".*?</fieldset>', body, re.DOTALL).group(0)


def features_wave() -> Wave:
    return db.session.scalar(select(Wave).where(Wave.slug == WAVE))


# -- the blank form ----------------------------------------------------------------------------


def test_the_blank_form_shows_each_feature(features_app):
    body = features_app.test_client().get(path()).get_data(as_text=True)
    concerns = fieldset(body, "concerns")
    # multiple: checkboxes, and how many may be chosen
    assert concerns.count('type="checkbox" name="q_concerns"') == 4 and 'type="radio"' not in concerns
    assert "可多选，最多选 2 项" in concerns and 'data-max="2"' in concerns
    # show_if: without JavaScript the item is there with a note of when to answer it
    assert "如上题选择“不太安全”或“不安全”，请回答本题" in concerns
    assert 'data-if="q_safety" data-if-codes="D E"' in concerns
    assert 'data-screen-out="N"' in fieldset(body, "resident")
    # required: false says 选答; the text limit as before
    assert "（选答）" in fieldset(body, "improved") and "（选答）" not in fieldset(body, "safety")
    assert 'maxlength="100"' in fieldset(body, "comment")
    # wording: 所在村（社区）, and the honeypot outside every question
    assert "所在村（社区）：<strong>江滨社区</strong>" in body and "填写地点" not in body
    assert re.search(r'<p class="hp" aria-hidden="true"><label>[^<]*<input name="website" value="" tabindex="-1" autocomplete="off">', body)


def test_a_note_names_the_question_number_when_the_condition_is_not_the_question_above(features_app):
    from flask import current_app

    from analysis.spec import parse_questionnaire
    from survey.forms import form_class

    spec = features_wave().questionnaire_version.to_spec().to_dict()
    spec["items"][2]["show_if"] = {"item": "resident", "in": ["Y"]}  # question 3 on question 1
    spec = parse_questionnaire(spec)
    with features_app.test_request_context("/s"):
        html = current_app.jinja_env.get_template("survey/_questions.html").render(
            spec=spec, form=form_class(spec)(formdata=None, meta={"csrf": False}), lang="zh"
        )
    assert "如第 1 题选择“满一年”，请回答本题" in fieldset(html, "concerns")


# -- multiple ------------------------------------------------------------------------------------


def test_a_multiple_item_takes_at_most_k_codes_and_keeps_them_in_option_order(features_app):
    client = features_app.test_client()
    too_many = post(client, {**UNSAFE, "concerns": ["theft", "fraud", "fights"]})
    body = too_many.get_data(as_text=True)
    assert too_many.status_code == 422
    assert "最多选 2 项，现在选了 3 项，请去掉一些。" in fieldset(body, "concerns")
    assert fieldset(body, "concerns").count(" checked") == 3  # the resident's ticks are kept
    assert responses() == []
    bad_code = post(client, {**UNSAFE, "concerns": ["theft", "drugs"]})
    assert bad_code.status_code == 422 and "所选答案无效" in fieldset(bad_code.get_data(as_text=True), "concerns")
    assert responses() == []

    done = post(client, UNSAFE)
    assert done.status_code == 200 and "提交成功" in done.get_data(as_text=True)
    [row] = responses()
    assert row.answers["concerns"] == ["theft", "fraud"]  # option order, not the order ticked
    assert row.screened_out is False


# -- show_if ------------------------------------------------------------------------------------


def test_an_applicable_show_if_item_is_required(features_app):
    client = features_app.test_client()
    missing = post(client, {k: v for k, v in UNSAFE.items() if k != "concerns"})
    body = missing.get_data(as_text=True)
    assert missing.status_code == 422
    assert "这道题还没有回答，请至少选择一项。" in fieldset(body, "concerns")
    assert '<a href="#q-concerns">第 3 题</a>' in body
    assert responses() == []


def test_an_answer_to_an_item_that_does_not_apply_is_dropped_not_stored(features_app):
    """Decision: dropped, not refused. Without JavaScript every item is on the page; a resident who
    ticked problems and then changed 不安全 to 比较安全 did nothing wrong."""
    client = features_app.test_client()
    done = post(client, {**SAFE, "concerns": ["theft"]})
    assert done.status_code == 200 and "提交成功" in done.get_data(as_text=True)
    [row] = responses()
    assert "concerns" not in row.answers and row.answers == SAFE


def test_a_not_applicable_item_is_never_an_error_even_when_its_answer_is_invalid(features_app):
    done = post(features_app.test_client(), {**SAFE, "concerns": ["nonsense", "a", "b", "c"]})
    assert done.status_code == 200
    assert "concerns" not in responses()[0].answers


# -- required: false --------------------------------------------------------------------------------


def test_optional_items_may_be_left_out(features_app):
    answers = {k: v for k, v in SAFE.items() if k != "improved"}
    assert post(features_app.test_client(), answers).status_code == 200
    [row] = responses()
    assert row.answers == answers


def test_a_required_item_left_out_is_still_refused(features_app):
    r = post(features_app.test_client(), {k: v for k, v in SAFE.items() if k != "sat_police"})
    assert r.status_code == 422 and "这道题还没有回答，请选择一项。" in fieldset(r.get_data(as_text=True), "sat_police")


# -- screening --------------------------------------------------------------------------------------


def test_a_screening_answer_ends_the_questionnaire(features_app):
    client = features_app.test_client()
    # Without JavaScript the rest of the page may be half filled: it is dropped, and nothing more is required.
    closing = post(client, {"resident": "N", "safety": "A", "concerns": ["theft"]})
    body = closing.get_data(as_text=True)
    assert closing.status_code == 200
    assert "感谢您的参与！" in body and "本次调查不需要您继续填写" in body and "提交成功" not in body
    assert "data-clear-draft" in body and 'href="tel:110"' in body
    [row] = responses()
    assert row.screened_out is True and row.answers == {"resident": "N"}
    assert row.flags == [] and row.review_status == "clean"

    # Counted in progress, as its own count; not in results.
    rows = {r.code: r for r in wave_progress(features_wave())}
    assert (rows[VILLAGE].n, rows[VILLAGE].n_screened) == (0, 1)
    assert (rows["619900"].n, rows["619900"].n_screened) == (0, 1)
    other = features_app.test_client()
    assert post(other, SAFE).status_code == 200
    rows = {r.code: r for r in wave_progress(features_wave())}
    assert (rows[VILLAGE].n, rows[VILLAGE].n_screened) == (1, 1)
    data = load_wave_data(features_wave())
    assert len(data.responses) == 1 and data.responses["resident"].tolist() == ["Y"]

    # The same phone again: already answered.
    again = client.get(path())
    assert "您已提交过本次调查" in again.get_data(as_text=True)

    # The console's wave page shows the count apart.
    from tests.admin.console import PASSWORD, sign_in, text

    runner = features_app.test_cli_runner()
    assert runner.invoke(args=["user", "create", "admin", "--role", "admin", "--password", PASSWORD]).exit_code == 0
    console = features_app.test_client()
    sign_in(console, "admin")
    assert "1 份辖区居民答卷（不含部门、不含已剔除）" in text(console.get(f"/admin/waves/{WAVE}"))
    assert "1 份甄别退出（不计入答卷和结果）" in text(console.get(f"/admin/waves/{WAVE}"))
    assert console.get(f"/admin/waves/{WAVE}/progress.json").get_json()["top"]["n_screened"] == 1


def test_a_screened_resident_is_never_a_speeder(make_app):
    app = make_resident_app(make_app, SPEEDER_SECONDS=600)
    with app.app_context():
        runner = app.test_cli_runner()
        for args in (
            ["units", "import", str(DATA / "units.csv"), "--population", str(DATA / "population.csv")],
            ["questionnaire", "load", str(DATA / "questionnaire_features.yaml")],
            ["wave", "create", "--slug", WAVE, "--questionnaire", "features", "--scope", "619900", "--period", "2026Q3"],
            ["wave", "open", WAVE],
        ):
            assert runner.invoke(args=args).exit_code == 0
        assert post(app.test_client(), {"resident": "N"}).status_code == 200
        assert post(app.test_client(), SAFE).status_code == 200
        screened, answered = responses()
        assert "speeder" not in screened.flags and "speeder" in answered.flags
        db.session.remove()
        db.engine.dispose()


# -- the honeypot ----------------------------------------------------------------------------------


def test_a_filled_honeypot_stores_nothing_and_is_thanked_like_anyone(features_app):
    client = features_app.test_client()
    bot = post(client, SAFE, extra={"website": "http://spam.example"})
    assert bot.status_code == 200 and "提交成功，谢谢您！" in bot.get_data(as_text=True)
    assert responses() == []
    # Even an incomplete sheet: the bot learns nothing from error messages.
    assert post(client, {}, extra={"website": "x"}).status_code == 200
    assert responses() == []
    # An empty honeypot (every person) stores as usual.
    assert post(client, SAFE, extra={"website": ""}).status_code == 200
    assert len(responses()) == 1


# -- English ---------------------------------------------------------------------------------------


def test_english_from_the_browsers_accept_language(features_app):
    client = features_app.test_client()
    english = {"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}
    body = client.get(path(), headers=english).get_data(as_text=True)
    assert '<html lang="en">' in body
    assert "<h1>Public Safety Survey (feature test)</h1>" in body
    assert "How safe is your town or subdistrict?" in fieldset(body, "safety")
    assert "<span>Not very safe</span>" in fieldset(body, "safety")
    assert "<span>Phone and online fraud</span>" in fieldset(body, "concerns")
    assert "<span>其他</span>" in fieldset(body, "concerns")  # no label_en: the Chinese
    assert "您的年龄" in fieldset(body, "age_group")  # no text_en: the Chinese
    assert "Answer this question only if you chose “Not very safe” or “Unsafe” in the question above." in body
    assert "Choose up to 2." in body and "Your village or community: " in body
    # Chinese browsers, the default, ?lang= and the cookie, and the per-process cache of blank questions by language.
    chinese = client.get(path(), headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in chinese and "您觉得您所在的乡镇(街道)社会治安状况如何?" in chinese
    assert "How safe" not in client.get(path(), headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "How safe" not in client.get(path(lang="zh"), headers=english).get_data(as_text=True)
    assert "How safe" in client.get(path(lang="en"), headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    client.set_cookie("lang", "zh")
    assert "How safe" not in client.get(path(), headers=english).get_data(as_text=True)

    # Errors and the thank-you page in English too.
    en = features_app.test_client()
    r = post(en, {**UNSAFE, "concerns": ["theft", "fraud", "fights"]}, headers=english)
    assert r.status_code == 422 and "Choose at most 2; you chose 3. Please untick some." in r.get_data(as_text=True)
    done = post(en, UNSAFE, headers=english)
    assert "Submitted. Thank you!" in done.get_data(as_text=True) and "anti-fraud line" in done.get_data(as_text=True)


# -- 大字 -------------------------------------------------------------------------------------------


def test_the_large_type_switch_is_a_link_and_is_remembered(features_app):
    client = features_app.test_client()
    body = client.get(path()).get_data(as_text=True)
    assert '<html lang="zh-CN">' in body  # no class: normal type
    switch = re.search(r'<a class="size" href="([^"]+)">大字</a>', body)
    assert switch and switch.group(1) == path() + "?size=large"
    big = client.get(switch.group(1))
    assert '<html lang="zh-CN" class="big">' in big.get_data(as_text=True)
    assert "pingan_size=large" in big.headers["Set-Cookie"] and "Path=/s" in big.headers["Set-Cookie"]
    # Remembered: the next page, the thank-you page and the code page are large too.
    again = client.get(path()).get_data(as_text=True)
    assert 'class="big"' in again and re.search(r'<a class="size" href="[^"]+size=normal">标准字</a>', again)
    assert 'class="big"' in post(client, SAFE).get_data(as_text=True)
    assert 'class="big"' in client.get("/s").get_data(as_text=True)
    normal = client.get("/s?size=normal")
    assert 'class="big"' not in normal.get_data(as_text=True) and "pingan_size=normal" in normal.headers["Set-Cookie"]
    assert 'class="big"' not in client.get("/s").get_data(as_text=True)
    css = (DATA.parents[1] / "static/survey/survey.css").read_text()
    assert "html.big{font-size:137.5%}" in css
    # English keeps its language on the switch.
    en = features_app.test_client().get(path(lang="en")).get_data(as_text=True)
    assert re.search(r'<a class="size" href="[^"]+lang=en&amp;size=large">Large text</a>', en)


# -- wording and the thank-you page -----------------------------------------------------------------


def test_an_empty_code_asks_for_one(features_app):
    client = features_app.test_client()
    for typed in ("", "   "):
        r = client.get("/s", query_string={"code": typed})
        body = r.get_data(as_text=True)
        assert r.status_code == 200
        assert '<p class="ask" id="code-error">请输入海报或卡片上二维码下方的 6 位问卷号码。</p>' in body
        assert 'class="err"' not in body and "没有找到" not in body
    assert "<label for=\"code\">问卷号码</label>" in client.get("/s").get_data(as_text=True)


def test_the_thank_you_page_offers_the_board_and_help_numbers(features_app):
    client = features_app.test_client()
    body = post(client, SAFE).get_data(as_text=True)
    assert '<a href="/">查看已公布的平安测评结果</a>' in body  # nothing published yet: the public home
    assert '<a class="tel" href="tel:110">110</a>' in body and '<a class="tel" href="tel:96110">96110</a>' in body
    assert "反诈专线" in body

    # Once an earlier wave of the same scope is published, its board.
    runner = features_app.test_cli_runner()
    args = ["wave", "create", "--slug", "2026Q2-features", "--questionnaire", "features", "--scope", "619900", "--period", "2026Q2"]
    assert runner.invoke(args=args).exit_code == 0, "wave create"
    earlier = db.session.scalar(select(Wave).where(Wave.slug == "2026Q2-features"))
    earlier.status = "published"
    db.session.commit()
    caches.BOARD_LINKS.clear()  # as BOARD_LINK_TTL (a minute) later: each process reads it once a minute
    body = post(features_app.test_client(), SAFE).get_data(as_text=True)
    assert '<a href="/board/2026Q2-features">查看已公布的平安测评结果</a>' in body


def test_the_posters_say_questionnaire_code():
    posters = (DATA.parents[1] / "templates/reports/posters.html").read_text()
    assert "短码" not in posters and "问卷号码" in posters


# -- the console's preview --------------------------------------------------------------------------


def test_the_console_preview_is_the_residents_page_in_both_languages(features_app):
    from tests.admin.console import PASSWORD, sign_in

    runner = features_app.test_cli_runner()
    assert runner.invoke(args=["user", "create", "admin", "--role", "admin", "--password", PASSWORD]).exit_code == 0
    console = features_app.test_client()
    sign_in(console, "admin")
    page = console.get("/admin/questionnaires/features/1").get_data(as_text=True)
    assert 'src="/admin/questionnaires/features/1/preview?lang=zh"' in page
    assert re.search(r'<a href="/admin/questionnaires/features/1\?preview=zh" aria-current="page">中文</a>', page)
    english_tab = console.get("/admin/questionnaires/features/1?preview=en").get_data(as_text=True)
    assert 'src="/admin/questionnaires/features/1/preview?lang=en"' in english_tab

    resident = features_app.test_client().get(path()).get_data(as_text=True)
    for lang in ("zh", "en"):
        preview = console.get(f"/admin/questionnaires/features/1/preview?lang={lang}").get_data(as_text=True)
        seen = features_app.test_client().get(path(lang=lang)).get_data(as_text=True)
        for key in ("resident", "safety", "concerns", "improved", "comment"):
            assert fieldset(preview, key) == fieldset(seen, key), (lang, key)  # the very same questions
        assert re.search(r"<h1>[^<]+</h1>", preview).group(0) == re.search(r"<h1>[^<]+</h1>", seen).group(0)
        assert 'name="website"' in preview and 'class="size"' in preview
    assert "如上题选择“不太安全”或“不安全”，请回答本题" in resident
    big = console.get("/admin/questionnaires/features/1/preview?lang=zh&size=large").get_data(as_text=True)
    assert '<html lang="zh-CN" class="big">' in big


def test_the_console_stays_chinese_for_an_english_browser(features_app):
    english = {"Accept-Language": "en-US,en;q=0.9"}
    client = features_app.test_client()
    assert '<html lang="en">' in client.get("/s", headers=english).get_data(as_text=True)
    login = client.get("/admin/login", headers=english).get_data(as_text=True)
    assert "登录" in login
    from flask_babel import get_locale, refresh

    for url, expected in (("/admin/login", "zh"), ("/board/x", "zh"), ("/", "zh"), ("/s", "en"), ("/s/abc", "en")):
        with features_app.test_request_context(url, headers=english):
            refresh()  # the locale is cached per app context, which the fixture holds open
            assert str(get_locale()) == expected, url


# -- the sheet checker: the form's rules without the form ----------------------------------------


def _random_sheet(rng, spec) -> list[tuple[str, str]]:
    """A posted answer sheet, valid or hostile: each item absent, empty, answered, answered with an
    unknown code, several times, or (text) with CRLFs, control characters, spaces only or too long."""
    from survey.forms import field_name

    pairs = []
    for item in spec.items:
        name, codes = field_name(item), [o.code for o in item.options]
        roll = rng.random()
        if roll < 0.15:
            continue
        if roll < 0.22:
            pairs.append((name, ""))
        elif item.options:
            picks = rng.choices(codes + ["zz"] * (roll < 0.3) + [""] * (roll < 0.33), k=rng.choice([1, 1, 1, 2, 3, 4]))
            pairs += [(name, code) for code in picks]
        else:
            text = rng.choice(["希望加强夜间巡逻", "  ", "a\r\nb\x00c\x7f", "好" * (item.max_length + rng.choice([-1, 0, 1, 5])), " x \r"])
            pairs += [(name, text)] * rng.choice([1, 1, 2])
    rng.shuffle(pairs)
    return pairs


@pytest.mark.parametrize(("lang", "screening_later"), [("zh", False), ("en", False), ("zh", True)])
def test_the_sheet_checker_says_what_the_form_says(features_app, lang, screening_later):
    """The resident POST checks a sheet with survey.forms.SheetChecker and builds the WTForms form
    only to show the page again: on thousands of random and hostile sheets the two must agree on
    validity, each item's error message, the answers kept and the screening item. (`screening_later`:
    the screening question is the fourth, so that required items before it can be missing.)"""
    import random

    from werkzeug.datastructures import MultiDict

    from analysis.spec import parse_questionnaire
    from survey.forms import form_class, sheet_checker

    spec = features_wave().questionnaire_version.to_spec()
    if screening_later:
        raw = spec.to_dict()
        del raw["items"][0]["screen_out"]
        raw["items"][3]["screen_out"] = ["X", "E"]
        spec = parse_questionnaire(raw)
    rng = random.Random(17)
    seen = {"valid": 0, "invalid": 0, "screened": 0}
    for _ in range(1500):
        pairs = _random_sheet(rng, spec)
        with features_app.test_request_context(f"/s/x?lang={lang}", method="POST", data=MultiDict(pairs)):
            from flask import request

            form = form_class(spec)(meta={"csrf": False})
            valid = form.validate()
            sheet = sheet_checker(spec).check(request.form)
            errors = {item.key: form.fields_of(item).errors for item in spec.items if form.fields_of(item).errors}
            assert sheet.valid is valid, pairs
            assert {k: [v] for k, v in sheet.errors.items()} == errors, pairs
            assert sheet.screened_by == form.screened_by, pairs
            if valid:
                assert list(sheet.answers.items()) == list(form.answers().items()), pairs
        seen["valid" if valid else "invalid"] += 1
        seen["screened"] += sheet.screened_by is not None
    assert min(seen.values()) >= 100, seen  # every kind of sheet was met often
