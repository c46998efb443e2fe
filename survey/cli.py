"""The command line of docs/formats.md for units, questionnaires, waves and responses.

    flask --app app units import UNITS.csv [--population POPULATION.csv]
    flask --app app questionnaire load FILE.yaml
    flask --app app wave create --slug S --questionnaire Q --scope CODE --period 2026Q3 [--series NAME]
    flask --app app wave open|close|publish SLUG
    flask --app app wave reopen SLUG --reason TEXT
    flask --app app responses import --wave SLUG FILE.csv
    flask --app app calls import --wave SLUG FILE.csv
    flask --app app calls keygen
    flask --app app calls rates SLUG [--json]
    flask --app app wave progress SLUG [--json]
    flask --app app qr export --wave SLUG --out DIR [--base-url URL] [--mode qr|door]
    flask --app app analysis run --wave SLUG [--weight-cap C]
    flask --app app analysis export --wave SLUG --format json|csv|xlsx [--out FILE]
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import click
from flask import Flask
from flask.cli import AppGroup

from analysis import DEFAULT_WEIGHT_CAP
from errors import PinganError


class CliError(click.ClickException):
    """Printed as one line on stderr, `错误: file:line:column: what is wrong`, exit code 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"错误: {self.format_message()}", err=True, file=file or sys.stderr)


def ensure_schema() -> None:
    """Bring an empty or older database up to the latest migration before a command uses it.

    Commands run in one process, so this cannot race; the web server never does this
    (`make run` migrates before gunicorn starts).
    """
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from flask import current_app
    from flask_migrate import upgrade

    from extensions import db

    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    config = current_app.extensions["migrate"].migrate.get_config()
    if current != set(ScriptDirectory.from_config(config).get_heads()):
        click.echo("提示: 数据库结构不是最新,已自动执行迁移(flask db upgrade)", err=True)
        upgrade()


def reports_errors(f: Callable) -> Callable:
    """Turn the domain's errors into a clean CLI failure (no traceback, non-zero exit)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ensure_schema()
        try:
            return f(*args, **kwargs)
        except PinganError as e:
            raise CliError(e.message) from None

    return wrapper


units_cli = AppGroup("units", help="单位(行政区划与部门)。")
questionnaire_cli = AppGroup("questionnaire", help="问卷。")
wave_cli = AppGroup("wave", help="调查(一期测评)。")
responses_cli = AppGroup("responses", help="答卷。")
qr_cli = AppGroup("qr", help="二维码。")
calls_cli = AppGroup("calls", help="电话调查:号码名单。")
analysis_cli = AppGroup("analysis", help="加权分析:指数、置信区间、排名与约谈名单。")


@units_cli.command("import")
@click.argument("units_file", type=click.Path(dir_okay=False))
@click.option("--population", type=click.Path(dir_okay=False), help="人口数据 CSV(unit_code,dimension,category,count)。")
@reports_errors
def units_import(units_file: str, population: str | None) -> None:
    """Import or update units from UNITS_FILE (code,name,kind,parent_code)."""
    from survey.units import import_units

    click.echo(str(import_units(units_file, population)))


@questionnaire_cli.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@reports_errors
def questionnaire_load(file: str) -> None:
    """Load a questionnaire YAML (a new version, or an unused one replaced)."""
    from survey.questionnaires import load_questionnaire

    version, outcome = load_questionnaire(file)
    words = {"created": "已导入", "replaced": "已更新", "unchanged": "无变化"}
    click.echo(
        f"{words[outcome]}:问卷 {version.slug} 第 {version.version} 版《{version.title}》,"
        f"{len(version.items)} 题,{len(version.indicators)} 个指标"
    )


@wave_cli.command("create")
@click.option("--slug", required=True, help="调查标识,如 2026Q3-city。")
@click.option("--questionnaire", "questionnaire", required=True, help="问卷标识(使用其最新版本)。")
@click.option("--scope", required=True, help="调查范围的单位代码。")
@click.option("--period", required=True, help="期间:2027年第一季度、2027年上半年、2027年7月、2027年,或 2027Q1、2027H1、2027M07、2027。")
@click.option("--title", default=None, help="调查名称,默认“范围 + 期间 + 问卷名称”。")
@click.option("--series", default=None, help="系列名,默认与问卷标识相同。")
@click.option("--target-n", type=click.IntRange(min=1), default=100, show_default=True, help="每个单位的目标样本量。")
@reports_errors
def wave_create(slug: str, questionnaire: str, scope: str, period: str, title: str | None, series: str | None, target_n: int) -> None:
    """Create a draft wave."""
    from survey.waves import create_wave

    wave = create_wave(slug, questionnaire, scope, period, series, target_n, title=title)
    click.echo(f"已创建调查 {wave.slug}“{wave.title}”({wave.scope.name},{wave.period},系列 {wave.series}),状态:草稿")


def _transition_command(action: str, help_text: str) -> None:
    @wave_cli.command(action, help=help_text)
    @click.argument("slug")
    @reports_errors
    def command(slug: str) -> None:
        from survey.waves import get_wave, transition

        wave = transition(get_wave(slug), action)
        click.echo(f"调查 {wave.slug} 状态:{wave.status_label}")


_transition_command("open", "Open a draft wave to responses.")
_transition_command("close", "Close an open wave.")
_transition_command("publish", "Publish a closed wave's results (needs an analysis run).")


@wave_cli.command("reopen")
@click.argument("slug")
@click.option("--reason", required=True, help="重新开放的理由（记入审计日志）。")
@reports_errors
def wave_reopen(slug: str, reason: str) -> None:
    """Open a closed wave again, with a reason."""
    from survey.waves import get_wave, reopen_wave

    wave = reopen_wave(get_wave(slug), reason)
    click.echo(f"调查 {wave.slug} 已重新开放，状态：{wave.status_label}")


@wave_cli.command("list")
def wave_list() -> None:
    """List the waves."""
    from sqlalchemy import select

    from extensions import db
    from models import Wave

    for wave in db.session.scalars(select(Wave).order_by(Wave.period_start, Wave.slug)):
        click.echo(f"{wave.slug}\t{wave.period}\t{wave.series}\t{wave.scope.code}\t{wave.status}\t{wave.title}")


@wave_cli.command("progress")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@reports_errors
def wave_progress(slug: str, as_json: bool) -> None:
    """Responses per unit against the wave's target."""
    import json

    from survey.progress import format_progress, wave_progress as progress_rows
    from survey.waves import get_wave

    rows = progress_rows(get_wave(slug))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows], ensure_ascii=False, indent=1))
    else:
        click.echo(format_progress(rows))


@qr_cli.command("export")
@click.option("--wave", "wave_slug", required=True, help="调查标识。")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="输出目录。")
@click.option("--base-url", default=None, help="链接的网址前缀,默认取配置 PUBLIC_BASE_URL。")
@click.option("--mode", type=click.Choice(["qr", "door"]), default="qr", show_default=True, help="qr:张贴的海报;door:入户发放的卡片。")
@reports_errors
def qr_export(wave_slug: str, out_dir: str, base_url: str | None, mode: str) -> None:
    """Write one QR code PNG per unit and index.csv (unit_code,name,url,short_code)."""
    from survey.qr import export_wave_qr

    click.echo(str(export_wave_qr(wave_slug, out_dir, base_url, mode)))


@responses_cli.command("import")
@click.option("--wave", "wave_slug", required=True, help="调查标识。")
@click.argument("file", type=click.Path(dir_okay=False))
@reports_errors
def responses_import(wave_slug: str, file: str) -> None:
    """Import responses from a CSV (all rows or none)."""
    from survey.responses import import_responses

    click.echo(str(import_responses(wave_slug, file)))


@analysis_cli.command("run")
@click.option("--wave", "wave_slug", required=True, help="调查标识。")
@click.option("--weight-cap", type=float, default=DEFAULT_WEIGHT_CAP, show_default=True, help="权数截尾倍数(相对单位平均权数),0 = 不截尾。")
@reports_errors
def analysis_run(wave_slug: str, weight_cap: float) -> None:
    """Weight, estimate, rank and list; replaces the wave's stored results."""
    from survey.results import bulk_loading, run_analysis
    from survey.waves import get_wave

    with bulk_loading():  # a process of its own: the collector may pause while the responses load
        stored = run_analysis(get_wave(wave_slug), weight_cap=weight_cap)
    payload = stored.payload
    root = payload["units"][0]
    composite = root["composite"]["estimate"]
    click.echo(
        f"调查 {wave_slug}:{stored.n_responses} 份答卷(审核剔除 {stored.n_rejected} 份),"
        f"{len(payload['units'])} 个单位,{root['name']}综合指数 "
        + ("—" if composite is None else f"{composite:.2f}")
        + f",约谈名单 {len(payload['interview_list'])} 个单位"
    )
    for warning in payload.get("warnings", []):
        click.echo(f"提示: {warning}", err=True)


@calls_cli.command("import")
@click.option("--wave", "wave_slug", required=True, help="调查标识。")
@click.argument("file", type=click.Path(dir_okay=False))
@reports_errors
def calls_import(wave_slug: str, file: str) -> None:
    """导入电话名单(phone,unit_code[,quota_cell]):号码加密保存,全部导入或一条不导入。"""
    from survey.calls import import_call_list

    click.echo(str(import_call_list(wave_slug, file)))


@calls_cli.command("rates")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@reports_errors
def calls_rates(slug: str, as_json: bool) -> None:
    """电话调查的 AAPOR 应答率 RR1、RR3、COOP1(按单位、按访问员;docs/method.md)。"""
    import json

    from survey.calls import format_rates, wave_rates
    from survey.waves import get_wave

    rates = wave_rates(get_wave(slug))
    if rates is None:
        raise CliError(f"调查 “{slug}” 没有电话名单")
    click.echo(json.dumps(rates.to_dict(), ensure_ascii=False, indent=2) if as_json else format_rates(rates))


@calls_cli.command("keygen")
def calls_keygen() -> None:
    """生成电话号码加密密钥,设置为环境变量 PHONE_NUMBER_KEY(密钥丢失后已导入的号码无法解密)。"""
    from survey.calls import new_key

    click.echo(new_key())


def register(app: Flask) -> None:
    for group in (units_cli, questionnaire_cli, wave_cli, responses_cli, analysis_cli, qr_cli, calls_cli):
        app.cli.add_command(group)
