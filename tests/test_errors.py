"""One error type, one handler (issue 12): every refusal is a PinganError from the catalogue of
docs/architecture.md ("Errors"), rendered as a console page, API JSON or a CLI `错误:` line."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import click
import pytest

from admin.accounts import LoginRefused
from analysis.errors import AnalysisError
from analysis.spec import SpecError, parse_questionnaire
from errors import PinganError
from survey.cli import reports_errors
from survey.periods import PeriodError, parse_period
from tests.test_architecture import MODULES, PACKAGES

ROOT = Path(__file__).resolve().parents[1]


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _all_subclasses(sub)
    return found


def _catalogue() -> set[type]:
    for name in PACKAGES:  # every top-level package and module (migrations are no such package)
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            importlib.import_module(info.name)
    for name in set(MODULES) - {"worker"}:  # worker.py builds an app from the environment; it defines no error
        importlib.import_module(name)
    return {c for c in _all_subclasses(PinganError) if not c.__module__.startswith("tests")}


def test_every_error_in_the_code_base_has_a_status_and_is_in_the_catalogue():
    classes = _catalogue()
    assert {SpecError, AnalysisError, LoginRefused, PeriodError} <= classes
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(\w+)`", doc.split("## Errors", 1)[1], re.M))
    for cls in classes | {PinganError}:
        assert isinstance(cls.status, int) and 400 <= cls.status < 600, cls
    assert {c.__name__ for c in classes | {PinganError}} <= listed, "list every PinganError in docs/architecture.md"


def test_value_error_callers_still_catch_spec_and_period_errors():
    with pytest.raises(ValueError):
        parse_period("2026M13")
    with pytest.raises(ValueError):
        parse_questionnaire({"id": "x"})


def _errors() -> list[PinganError]:
    with pytest.raises(SpecError) as spec:
        parse_questionnaire({"id": "x"})
    with pytest.raises(PeriodError) as period:
        parse_period("2026M13")
    return [
        spec.value,
        AnalysisError("no_margins", "缺少人口数据，无法加权"),
        LoginRefused("用户名或密码错误"),
        period.value,
    ]


@pytest.fixture
def raising_app(make_app):
    """The real app with two routes that raise the catalogue's errors: one console, one API."""
    app = make_app()
    errors = {type(e).__name__: e for e in _errors()}

    def raise_it(name: str):
        raise errors[name]

    app.add_url_rule("/_errcat/<name>", "errcat_page", raise_it)
    app.add_url_rule("/api/_errcat/<name>", "errcat_api", raise_it)
    return app, errors


@pytest.mark.parametrize("name", ["SpecError", "AnalysisError", "LoginRefused", "PeriodError"])
def test_the_one_handler_renders_a_page_and_json(raising_app, name):
    app, errors = raising_app
    error = errors[name]
    client = app.test_client()

    page = client.get(f"/_errcat/{name}", headers={"Accept": "text/html"})
    assert page.status_code == error.status and page.mimetype == "text/html"
    assert error.message in page.get_data(as_text=True) and "Traceback" not in page.get_data(as_text=True)

    api = client.get(f"/api/_errcat/{name}")
    assert api.status_code == error.status and api.is_json
    assert api.get_json() == {"error": {"code": error.code, "message": error.message}}


def test_statuses_and_codes_of_the_four():
    spec, analysis, login, period = _errors()
    assert (spec.status, spec.code) == (422, "bad_spec") and spec.message.startswith("(root)")
    assert (analysis.status, analysis.code) == (422, "no_margins")
    assert (login.status, login.code) == (401, "login_refused")
    assert (period.status, period.code) == (400, "bad_period") and "01 到 12" in period.message


@pytest.mark.parametrize("index", range(4))
def test_the_cli_prints_one_error_line_and_exits_1(app, runner, index):
    error = _errors()[index]

    @click.command()
    @reports_errors
    def fails() -> None:
        raise error

    result = runner.invoke(fails)
    assert result.exit_code == 1 and result.output == f"错误: {error.message}\n"


def test_a_bad_period_on_the_real_cli(runner):
    result = runner.invoke(args=["wave", "create", "--slug", "w", "--questionnaire", "safety",
                                 "--scope", "619900", "--period", "2026M13"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip() == "错误: 期间 “2026M13” 的月份应在 01 到 12 之间"
