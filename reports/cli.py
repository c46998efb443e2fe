"""`flask --app app report build --wave SLUG --kind quarterly|interviews|board|posters --out FILE.pdf [--within CODE]`."""

from __future__ import annotations

import time
from datetime import date

import click
from flask.cli import AppGroup

from survey.cli import CliError, reports_errors

report_cli = AppGroup("report", help="报告:季度测评报告、约谈通知书、公示栏、扫码海报(PDF)。")


@report_cli.command("build")
@click.option("--wave", "wave_slug", required=True, help="调查标识。")
@click.option("--kind", required=True, type=click.Choice(["quarterly", "interviews", "board", "posters"]),
              help="quarterly 测评报告;interviews 约谈名单及通知书;board 公示栏;posters 扫码海报及入户卡片。")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True), help="输出的 PDF 文件。")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="印在报告上的日期(默认今天,北京时间),如 2026-10-15。")
@click.option("--within", "within_code", default=None,
              help="只印该单位（如某县）及其下级的部分：该县的单位、约谈名单和海报。默认整个调查。")
@reports_errors
def build(wave_slug: str, kind: str, out: str, on, within_code: str | None) -> None:
    """Build one report of a wave as a PDF."""
    from reports.build import KIND_LABELS, build_report
    from survey.waves import get_unit, get_wave

    started = time.perf_counter()
    wave = get_wave(wave_slug)
    within = get_unit(within_code) if within_code else None
    today: date | None = on.date() if on else None
    pdf = build_report(wave, kind, today, within=within)
    try:
        with open(out, "wb") as f:
            f.write(pdf)
    except OSError as e:
        raise CliError(f"无法写入 {out}:{e.strerror}") from None
    click.echo(f"已生成{KIND_LABELS[kind]} {out}({len(pdf) // 1024} KB,用时 {time.perf_counter() - started:.1f} 秒)")
