import click
from flask.cli import AppGroup

from survey.cli import reports_errors

demo_cli = AppGroup("demo", help="演示数据。")


@demo_cli.command("seed")
@click.option("--if-empty", is_flag=True, help="数据库里已有单位时什么也不做(只提示已保存的管理员账号)。")
@click.option("--seed", "seed", type=int, default=None, help="随机种子;同一种子生成同一座城市,默认 2026。")
@reports_errors
def seed_command(if_empty: bool, seed: int | None) -> None:
    """Load the demo city 安澜市: units, population, three quarterly waves and office accounts."""
    from demo.seed import DEFAULT_SEED, demo_exists, saved_admin_password, seed_demo

    if if_empty and demo_exists():
        click.echo("数据库里已有单位,演示数据不再重复导入。")
        password = saved_admin_password()
        if password:
            click.echo(f"管理员账号: admin  密码: {password}")
        return
    result = seed_demo(DEFAULT_SEED if seed is None else seed, echo=click.echo)
    click.echo(f"演示数据已就绪,用时 {result.seconds:.1f} 秒。")
