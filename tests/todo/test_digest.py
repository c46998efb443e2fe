"""The 待办 digest (`flask --app app todo digest`): sent through a real SMTP conversation to a
server the test starts on 127.0.0.1 and a free port; nothing is sent without MAIL_SERVER."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from admin.todo import todo_list
from extensions import db
from models import AuditEntry
from tests.admin.console import Q3, city, city_template, client_for, post, user  # noqa: F401
from tests.todo.smtp import SMTPServer


@pytest.fixture
def issued(city):
    assert post(client_for(city, "office"), f"/admin/waves/{Q3}/interviews").status_code == 302
    return city


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def set_email(app, username, address):
    result = run(app, "user", "email", username, address)
    assert result.exit_code == 0, result.output


def test_each_account_with_an_address_gets_its_own_todo(issued):
    set_email(issued, "office", "office@example.gov.cn")
    set_email(issued, "east", "east@example.gov.cn")
    set_email(issued, "analyst", "analyst@example.gov.cn")  # nothing to do: no mail
    with SMTPServer() as server:
        issued.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_DEFAULT_SENDER="zongzhiban@example.gov.cn")
        result = run(issued, "todo", "digest")
        assert result.exit_code == 0, result.output
        assert "已发送 1 封" in result.output and "没有待办而未发送 2 个账号" in result.output
        received = server.mailbox.received
    assert [r.recipients for r in received] == [["office@example.gov.cn"]]
    message = received[0].message
    todo = todo_list(user("office"))
    assert message["Subject"].startswith(f"平安测评待办：{todo.total} 项")
    assert message["From"] == "zongzhiban@example.gov.cn"
    body = message.get_content()
    assert f"【安排约谈】{todo.group('schedule').count} 项" in body
    for item in todo.group("schedule").items:
        assert item.title in body
    assert "/admin/todo" in body
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "todo.digest"))
    assert entry.after["sent"] == ["office"] and set(entry.after["skipped"]) == {"east", "analyst"}


def test_one_refused_recipient_does_not_stop_the_others(issued):
    set_email(issued, "office", "office@example.gov.cn")
    set_email(issued, "admin", "nobody@example.gov.cn")
    with SMTPServer() as server:
        server.mailbox.refuse.add("nobody@example.gov.cn")
        issued.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port)
        result = run(issued, "todo", "digest")
        received = server.mailbox.received
    assert result.exit_code == 1
    assert "失败 1 封" in result.output and "错误: admin 的待办邮件发送失败" in result.output
    assert [r.recipients for r in received] == [["office@example.gov.cn"]]


def test_without_mail_server_nothing_is_sent_and_it_says_so(issued):
    set_email(issued, "office", "office@example.gov.cn")
    issued.config["MAIL_SERVER"] = None
    result = run(issued, "todo", "digest")
    assert result.exit_code == 1 and "错误: 未设置 MAIL_SERVER" in result.output
    assert "Traceback" not in result.output
    # a dry run prints what would go, without a server
    dry = run(issued, "todo", "digest", "--dry-run")
    assert dry.exit_code == 0 and "office <office@example.gov.cn>" in dry.output and "【安排约谈】" in dry.output


def test_an_unreachable_server_is_one_clear_line(issued):
    set_email(issued, "office", "office@example.gov.cn")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    issued.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    result = run(issued, "todo", "digest")
    assert result.exit_code == 1 and f"错误: 无法连接邮件服务器 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


def test_addresses_are_checked_on_the_command_line(issued):
    result = run(issued, "user", "email", "office", "not-an-address")
    assert result.exit_code == 1 and "错误: 邮箱格式不对" in result.output
    assert run(issued, "user", "email", "nobody", "a@b.cn").exit_code == 1
    assert run(issued, "todo", "digest", "--user", "office").exit_code == 1  # no address yet
    set_email(issued, "office", "office@example.gov.cn")
    assert run(issued, "user", "email", "office").exit_code == 0
    db.session.expire_all()
    assert user("office").email is None
