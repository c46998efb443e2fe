"""The console's commands: accounts, and issuing the 约谈 list.

    flask --app app user create --role ROLE [--scope UNIT_CODE] [USERNAME]
    flask --app app interviews issue --wave SLUG [--exclude CODE --reason TEXT]… [--yes]
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from models.accounts import ROLES
from survey.cli import CliError, reports_errors

user_cli = AppGroup("user", help="管理后台账号。")
interviews_cli = AppGroup("interviews", help="约谈名单:预览与下发。")


@user_cli.command("create")
@click.argument("username", required=False)
@click.option("--username", "username_option", default=None, help="用户名(也可作为位置参数);省略则按角色和单位生成。")
@click.option("--role", type=click.Choice(ROLES), required=True, help="admin、county、office、analyst 或 collector(网格员)。")
@click.option("--scope", "scope_code", default=None, help="所辖单位代码(县区和网格员账号必填);省略则为全部单位。")
@click.option("--name", "display_name", default=None, help="显示名称。")
@click.option("--password", default=None, help="省略则生成随机密码并显示一次。")
@reports_errors
def create(
    username: str | None, username_option: str | None, role: str, scope_code: str | None,
    display_name: str | None, password: str | None,
) -> None:
    """Create an office account (the password is shown once when generated). The command line
    acts as the system (policy.SYSTEM), which may create any account."""
    import policy
    from admin.accounts import create_user, new_password

    policy.require(policy.SYSTEM, "users.manage")
    username = username or username_option or (f"{role}-{scope_code}" if scope_code else role)
    chosen = password or new_password()
    user = create_user(username, chosen, role, scope_code, display_name)
    click.echo(f"已创建账号: {user.username}({user.role_label}{',' + user.scope.name if user.scope else ''})")
    if password is None:
        click.echo(f"密码: {chosen}  (只显示这一次)")


@interviews_cli.command("issue")
@click.option("--wave", "wave_slug", required=True, help="调查标识。")
@click.option("--exclude", "excluded", multiple=True, metavar="CODE", help="撤下的单位代码(可多次);每个都要跟一个 --reason。")
@click.option("--reason", "reasons", multiple=True, metavar="TEXT", help="撤下的理由,与 --exclude 按顺序一一对应。")
@click.option("--yes", is_flag=True, help="确认撤销已下发、但已不在名单中(或被撤下)的案件。")
@reports_errors
def interviews_issue(wave_slug: str, excluded: tuple[str, ...], reasons: tuple[str, ...], yes: bool) -> None:
    """Issue the computed interview list minus the excluded units: one case per listed unit (audited)."""
    from admin.cases import issue_interview_list, preview_issue
    from survey.waves import get_wave

    if len(excluded) != len(reasons):
        raise CliError(f"--exclude 与 --reason 应一一对应(现有 {len(excluded)} 个 --exclude、{len(reasons)} 个 --reason)")
    if len(set(excluded)) != len(excluded):
        raise CliError("同一单位不能撤下两次")
    exclusions = dict(zip(excluded, reasons))
    wave = get_wave(wave_slug)
    preview = preview_issue(wave, None, exclusions)
    for x in preview.lines:
        words = [x.unit.name, x.unit.code, x.line.reason_label, x.line.bottom_text]
        if x.line.interval:
            words.append(x.line.interval)
        note = x.line.note(preview.bottom_n)
        if note:
            words.append(note)
        words.append(x.action_label + (f":{x.excluded_reason}" if x.excluded_reason else ""))
        click.echo(" ".join(words))
    if preview.to_withdraw and not yes:
        raise CliError(f"下发将撤销 {preview.to_withdraw} 件已下发的约谈案件;核对上面的名单后加 --yes 确认")
    summary = issue_interview_list(wave, None, exclusions, confirm_withdrawals=preview.to_withdraw)
    click.echo(str(summary))
