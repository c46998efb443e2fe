"""The 待办 e-mail digest (`flask --app app todo digest`, docs/formats.md): one plain-text message
per active account that has an address and something to do, sent with smtplib to MAIL_SERVER.

Nothing is sent while MAIL_SERVER is unset. One failed recipient does not stop the others; the
run is audited (`todo.digest`: who was sent what count, who failed and why).
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app
from sqlalchemy import select

import audit
from admin.errors import FieldError
from admin.todo import Todo, todo_list
from clock import today
from errors import PinganError
from extensions import db
from models import User

# One address, as people type it; the server decides whether it exists.
EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9\u00a0-\uffff](?:[A-Za-z0-9\u00a0-\uffff-]*[A-Za-z0-9\u00a0-\uffff])?(?:\.[A-Za-z0-9\u00a0-\uffff-]+)+$")
TIMEOUT = 30  # seconds for the SMTP conversation


class MailNotConfigured(PinganError):
    status = 409

    def __init__(self) -> None:
        super().__init__("未设置 MAIL_SERVER，待办邮件未发送；请在环境变量中配置邮件服务器（见 docs/formats.md）", code="mail_not_configured")


def clean_email(address: str | None) -> str | None:
    """The address trimmed, or None for blank; FieldError when it is not one address."""
    address = (address or "").strip()
    if not address:
        return None
    if len(address) > 254 or not EMAIL.match(address):
        raise FieldError("email", "邮箱格式不对，例如 zhangsan@example.gov.cn")
    return address


def set_email(user: User, address: str | None) -> str | None:
    """The account's own address for the digest (None: no e-mail); audited as `user.email`."""
    address = clean_email(address)
    before = {"email": user.email}
    try:
        user.email = address
        audit.record("user.email", "user", user.username, before, {"email": address})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return address


def console_url(path: str) -> str:
    base = (current_app.config.get("CONSOLE_BASE_URL") or current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    return base + path


def compose(user: User, todo: Todo, on: date) -> EmailMessage:
    """The digest of one account's 待办: each group with its items, and the link to the page."""
    message = EmailMessage()
    late = f"（其中逾期 {todo.overdue} 项）" if todo.overdue else ""
    message["Subject"] = f"平安测评待办：{todo.total} 项{late} · {on.isoformat()}"
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = formataddr((user.display_name or user.username, user.email))
    message["Message-ID"] = make_msgid(domain="pingan.local")
    lines = [f"{user.display_name or user.username}：", "", f"截至 {on.isoformat()}，您有 {todo.total} 项待办{late}。", ""]
    for group in todo.nonempty:
        lines.append(f"【{group.title}】{group.count} 项")
        for item in group.items:
            flag = "（逾期）" if item.overdue else ""
            about = f"（{item.wave.title}）" if item.case is not None else ""
            lines.append(f"  - {item.title}{about}：{item.detail}{flag}")
        lines.append("")
    lines += [f"在后台查看和办理：{console_url('/admin/todo')}", "", "（此邮件由平安测评系统自动发送；在“待办”页可以修改或取消接收邮箱。）"]
    message.set_content("\n".join(lines))
    return message


@dataclass
class DigestRun:
    sent: list[str] = field(default_factory=list)  # usernames
    skipped: list[str] = field(default_factory=list)  # nothing to do
    failed: dict[str, str] = field(default_factory=dict)  # username → why


def recipients(username: str | None = None) -> list[User]:
    query = select(User).where(User.active.is_(True), User.email.is_not(None)).order_by(User.username)
    if username is not None:
        query = query.where(User.username == username)
    return list(db.session.scalars(query))


def _connect() -> smtplib.SMTP:
    config = current_app.config
    host, port = config["MAIL_SERVER"], int(config["MAIL_PORT"])
    try:
        if config.get("MAIL_USE_SSL"):
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=TIMEOUT)
            if config.get("MAIL_USE_TLS"):
                smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    except (OSError, smtplib.SMTPException) as e:
        raise PinganError(f"无法连接邮件服务器 {host}:{port}：{e}", code="mail_unreachable", status=503) from None
    return smtp


def messages(username: str | None = None, on: date | None = None) -> list[tuple[User, EmailMessage | None]]:
    """Each recipient with its digest (None: nothing to do, nothing is sent)."""
    on = on or today()
    out = []
    for user in recipients(username):
        todo = todo_list(user, on)
        out.append((user, compose(user, todo, on) if todo.total else None))
    return out


def send_digest(username: str | None = None, on: date | None = None) -> DigestRun:
    """Send every account its 待办 (or only `username`'s). MailNotConfigured without MAIL_SERVER."""
    if not current_app.config.get("MAIL_SERVER"):
        raise MailNotConfigured()
    run = DigestRun()
    pending = messages(username, on)
    if any(m is not None for _, m in pending):
        smtp = _connect()
        try:
            for user, message in pending:
                if message is None:
                    run.skipped.append(user.username)
                    continue
                try:
                    smtp.send_message(message)
                    run.sent.append(user.username)
                except smtplib.SMTPException as e:
                    run.failed[user.username] = str(e)
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
    else:
        run.skipped = [user.username for user, _ in pending]
    audit.record("todo.digest", "digest", None, None, {"sent": run.sent, "skipped": run.skipped, "failed": run.failed})
    db.session.commit()
    return run
