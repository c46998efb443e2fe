"""flask --app app user create --role ROLE [--scope UNIT_CODE] [USERNAME]"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from models.accounts import ROLES
from survey.cli import reports_errors

user_cli = AppGroup("user", help="管理后台账号。")


@user_cli.command("create")
@click.argument("username", required=False)
@click.option("--username", "username_option", default=None, help="用户名(也可作为位置参数);省略则按角色和单位生成。")
@click.option("--role", type=click.Choice(ROLES), required=True, help="admin、county、office 或 analyst。")
@click.option("--scope", "scope_code", default=None, help="所辖单位代码(县区账号必填);省略则为全部单位。")
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
