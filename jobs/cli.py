"""`flask --app app jobs …`: the background jobs' housekeeping (docs/jobs.md, "Clean-up")."""

from __future__ import annotations

import click
from flask.cli import AppGroup

jobs_cli = AppGroup("jobs", help="后台任务：清理不再使用的文件")


@jobs_cli.command("prune")
@click.option("--older-than", "days", type=click.FloatRange(min=0), default=7, show_default=True,
              help="只删除最后写入早于这么多天的文件")
def prune_command(days: float) -> None:
    """Delete the built files and charts no longer in use (jobs.retention.prune)."""
    from datetime import timedelta

    from jobs.retention import prune

    pruned = prune(timedelta(days=days))
    for name in pruned.files:
        click.echo(f"删除 {name}")
    click.echo(f"共删除 {len(pruned.files)} 个文件，释放 {pruned.bytes / 1024 / 1024:.1f} MB")
