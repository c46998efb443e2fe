"""`flask --app app report build --wave SLUG --kind quarterly|interviews|board|posters --out FILE.pdf [--within CODE] [--unit CODE]`
and `flask --app app analysis export --wave SLUG [--format json|csv|xlsx] [--out FILE]`."""

from __future__ import annotations

import time
from datetime import date

import click
from flask.cli import AppGroup

from survey.cli import CliError, analysis_cli, reports_errors

report_cli = AppGroup("report", help="报告:季度测评报告、约谈通知书、公示栏、扫码海报(PDF)。")


@report_cli.command("build")
@click.option("--wave", "wave_slug", required=True, help="调查标识。")
@click.option("--kind", required=True, type=click.Choice(["quarterly", "interviews", "board", "posters"]),
              help="quarterly 测评报告;interviews 约谈名单及通知书;board 公示栏;posters 扫码海报及入户卡片。")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True), help="输出的 PDF 文件。")
@click.option("--unit", "unit", default=None,
              help="只生成一个单位的文件：posters 为该单位的海报和入户卡片，interviews 为该单位的约谈通知书。")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="印在报告上的日期(默认今天,北京时间),如 2026-10-15。")
@click.option("--within", "within_code", default=None,
              help="只印该单位（如某县）及其下级的部分：该县的单位、约谈名单和海报。默认整个调查。")
@reports_errors
def build(wave_slug: str, kind: str, out: str, unit: str | None, on, within_code: str | None) -> None:
    """Build one report of a wave as a PDF."""
    from reports.build import KIND_LABELS, build_report
    from survey.waves import get_unit, get_wave

    started = time.perf_counter()
    wave = get_wave(wave_slug)
    within = get_unit(within_code) if within_code else None
    today: date | None = on.date() if on else None
    if unit is not None and kind not in ("posters", "interviews"):
        raise CliError("--unit 只用于 posters（单位的海报和入户卡片）和 interviews（单位的约谈通知书）")
    pdf = build_report(wave, kind, today, within=within, unit=unit)
    try:
        with open(out, "wb") as f:
            f.write(pdf)
    except OSError as e:
        raise CliError(f"无法写入 {out}:{e.strerror}") from None
    click.echo(f"已生成{KIND_LABELS[kind]} {out}({len(pdf) // 1024} KB,用时 {time.perf_counter() - started:.1f} 秒)")


# `analysis export` belongs to the `analysis` group (survey/cli.py runs the analysis), but it writes the
# report files, so it lives here: survey never imports reports (docs/architecture.md).
@analysis_cli.command("export")
@click.option("--wave", "wave_slug", required=True, help="调查标识。")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "xlsx"]), default="json", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="输出文件;省略则写到标准输出(xlsx 必须指定)。")
@reports_errors
def analysis_export(wave_slug: str, fmt: str, out: str | None) -> None:
    """Export the stored results."""
    from reports.exports import to_csv, to_json, to_xlsx
    from survey.results import stored_result, wave_result
    from survey.waves import get_wave

    wave = get_wave(wave_slug)
    result = wave_result(wave)
    if fmt == "json":
        data: str | bytes = to_json(stored_result(wave).payload) + "\n"
    elif fmt == "csv":
        data = to_csv(result)
    else:
        if out is None:
            raise CliError("xlsx 是二进制文件,请用 --out 指定输出文件")
        title = f"{wave.scope.name}{wave.questionnaire_version.title}({wave.period})"
        data = to_xlsx(result, wave.questionnaire_version.to_spec(), title)
    if out is None:
        click.echo(data, nl=False)
        return
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(out, mode, **({} if mode == "wb" else {"encoding": "utf-8", "newline": ""})) as f:
        f.write(data)
    click.echo(f"已写入 {out}", err=True)
