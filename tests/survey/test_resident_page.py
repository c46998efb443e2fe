"""The resident page itself: weight, no JavaScript needed, readable, and English as a second locale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.survey.resident import (
    ANSWERS,
    answer,
    form_data,
    hidden_fields,
    link,
    resident_app_fixture,
    responses,
)

resident_app = pytest.fixture(resident_app_fixture, name="resident_app")

BUDGET = 50 * 1024
ROOT = Path(__file__).resolve().parents[2]


def assets(page: str) -> list[str]:
    return re.findall(r'<(?:link[^>]+href|script[^>]+src)="(/static/[^"]+)"', page)


def test_page_weight_is_under_50_kb(resident_app):
    client = resident_app.test_client()
    page = client.get(link())
    html = page.get_data()
    linked = assets(page.get_data(as_text=True))
    assert sorted(linked) == ["/static/survey/survey.css", "/static/survey/survey.js"]
    total = len(html)
    for path in linked:
        r = client.get(path)
        assert r.status_code == 200
        total += len(r.get_data())
        r.close()
    assert total < BUDGET, f"{total} bytes"
    # The error page after a failed submission (every answer and message on it) stays within budget too.
    hidden = hidden_fields(page.get_data(as_text=True))
    errors = client.post(link(), data=form_data({"comment": "治" * 300}, hidden))
    assert len(errors.get_data()) + total - len(html) < BUDGET


def test_no_images_and_nothing_from_elsewhere(resident_app):
    body = resident_app.test_client().get(link()).get_data(as_text=True)
    assert "<img" not in body and "url(" not in (ROOT / "static/survey/survey.css").read_text()
    assert not re.search(r'(?:src|href)="(?:https?:)?//', body)  # no CDN, no web fonts


def test_the_form_works_without_javascript(resident_app):
    """A plain POST of the form's own fields is the whole protocol: no field is filled in by script."""
    client = resident_app.test_client()
    body = client.get(link()).get_data(as_text=True)
    form = re.search(r"<form id=\"survey\" method=\"post\" action=\"([^\"]+)\"", body)
    assert form and form.group(1) == link()
    names = set(re.findall(r'<(?:input|textarea)[^>]* name="([^"]+)"', body))
    assert names == {"ticket", "website"} | {f"q_{k}" for k in ANSWERS}  # website: the honeypot, left empty
    assert '<button type="submit"' in body
    assert '<p class="progress" id="progress" hidden>' in body  # shown only by the script
    assert "提交成功" in answer(client, link()).get_data(as_text=True)


def test_large_type_and_big_targets_in_the_stylesheet():
    css = (ROOT / "static/survey/survey.css").read_text()
    assert "html{font-size:112.5%" in css  # 18 px base
    assert re.search(r"\.o\{[^}]*min-height:3\.25rem", css)  # 58 px tall answer rows
    assert re.search(r"\.o input\{[^}]*width:1\.5rem;height:1\.5rem", css)
    assert re.search(r"button\{[^}]*width:100%;min-height:3\.5rem", css)
    assert "max-width:40rem" in css and "box-sizing:border-box" in css  # nothing wider than a 320 px screen


def test_each_option_is_a_label_around_its_radio(resident_app):
    body = resident_app.test_client().get(link()).get_data(as_text=True)
    assert re.search(r'<label class="o"><input type="radio" name="q_safety" value="A"><span>安全</span></label>', body)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    assert '<html lang="zh-CN">' in body
    assert "（选答）" in re.search(r'id="q-victim".*?</legend>', body, re.DOTALL).group(0)
    assert "（选答）" not in re.search(r'id="q-safety".*?</legend>', body, re.DOTALL).group(0)
    assert "<h2>您的基本情况<small>仅用于统计</small></h2>" in body


def test_english_locale(resident_app):
    client = resident_app.test_client()
    page = client.get(link() + "?lang=en")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="en">' in body
    assert "Your village or community: " in body and ">Submit</button>" in body and "About you" in body
    assert f'action="{link()}?lang=en"' in body
    assert f'href="{link()}?lang=zh"' in body and ">中文</a>" in body
    # Messages beside the questions, in English too.
    errors = client.post(link() + "?lang=en", data=form_data({}, hidden_fields(body)))
    text = errors.get_data(as_text=True)
    assert errors.status_code == 422
    assert "Please choose an answer to this question." in text and "Question 2" in text
    assert "这道题还没有回答" not in text
    done = answer(client, link() + "?lang=en")
    assert "Submitted. Thank you!" in done.get_data(as_text=True)
    assert len(responses()) == 1


def test_english_error_pages(resident_app):
    client = resident_app.test_client()
    r = client.get("/s/not-a-token?lang=en")
    assert r.status_code == 404 and "Invalid link" in r.get_data(as_text=True)
    assert "Enter the questionnaire code" in client.get("/s?lang=en").get_data(as_text=True)


def test_chinese_is_the_default_and_unknown_languages_fall_back_to_it(resident_app):
    client = resident_app.test_client()
    for query in ("", "?lang=fr", "?lang="):
        body = client.get(link() + query).get_data(as_text=True)
        assert '<html lang="zh-CN">' in body and ">提交</button>" in body


def test_the_blank_form_is_rendered_once_and_each_get_fills_in_only_its_ticket(resident_app, monkeypatch):
    """issue 17: the blank page is cached per place, link, language and type size (caches.BLANK_PAGES)."""
    first = resident_app.test_client().get(link()).get_data(as_text=True)
    rendered = []
    real = resident_app.jinja_env.get_template
    monkeypatch.setattr(resident_app.jinja_env, "get_template", lambda name, *a, **k: rendered.append(name) or real(name, *a, **k))
    client = resident_app.test_client()
    second = client.get(link()).get_data(as_text=True)
    assert rendered == []
    t1, t2 = hidden_fields(first)["ticket"], hidden_fields(second)["ticket"]
    assert t1 != t2 and first.replace(t1, "T") == second.replace(t2, "T")
    assert "PINGAN-TICKET-SLOT" not in second
    # Another language or type size is a page of its own, rendered once too.
    english = client.get(link() + "?lang=en").get_data(as_text=True)
    assert '<html lang="en"' in english and rendered
    big = client.get(link() + "?size=large").get_data(as_text=True)
    assert 'class="big"' in big and 'class="big"' not in second
    # The cached page's ticket works.
    assert "提交成功" in client.post(link(), data=form_data(ANSWERS, hidden_fields(second))).get_data(as_text=True)
