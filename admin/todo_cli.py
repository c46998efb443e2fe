"""The 待办 digest and the accounts' addresses on the command line.

    flask --app app todo digest [--user USERNAME] [--dry-run]
    flask --app app user email USERNAME [ADDRESS]
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from admin.cli import user_cli
from survey.cli import CliError, reports_errors

todo_cli = AppGroup("todo", help="待办：每个账号下一步要办的事。")


@todo_cli.command("digest")
@click.option("--user", "username", default=None, help="只发给这个账号。")
@click.option("--dry-run", is_flag=True, help="只打印邮件内容，不发送（无需 MAIL_SERVER）。")
@reports_errors
def digest_command(username: str | None, dry_run: bool) -> None:
    """E-mail every active account with an address its 待办 (MAIL_SERVER must be set)."""
    from admin import digest

    if username is not None and not digest.recipients(username):
        raise CliError(f"账号 “{username}” 不存在、已停用或没有填写邮箱")
    if dry_run:
        for user, message in digest.messages(username):
            if message is None:
                click.echo(f"{user.username} <{user.email}>：没有待办，不发送")
                continue
            click.echo(f"--- {user.username} <{user.email}> · {message['Subject']}")
            click.echo(message.get_content())
        return
    run = digest.send_digest(username)
    click.echo(f"待办邮件：已发送 {len(run.sent)} 封，没有待办而未发送 {len(run.skipped)} 个账号，失败 {len(run.failed)} 封")
    for name, why in run.failed.items():
        click.echo(f"错误: {name} 的待办邮件发送失败：{why}", err=True)
    if run.failed:
        raise SystemExit(1)


@user_cli.command("email")
@click.argument("username")
@click.argument("address", required=False, default="")
@reports_errors
def user_email(username: str, address: str) -> None:
    """Set (or, without ADDRESS, clear) where an account's 待办 digest goes."""
    from sqlalchemy import select

    from admin import digest
    from admin.errors import FieldError
    from extensions import db
    from models import User

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise CliError(f"账号 “{username}” 不存在")
    try:
        saved = digest.set_email(user, address)
    except FieldError as e:
        raise CliError(e.message) from None
    click.echo(f"{username} 的待办邮件将发到 {saved}" if saved else f"已取消 {username} 的待办邮件")
