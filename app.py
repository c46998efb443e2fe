"""平安测评: the application factory.

    flask --app app db upgrade
    flask --app app run
"""

from __future__ import annotations

import functools
import inspect
import os
import secrets
from pathlib import Path
from typing import Any, Mapping

from babel import Locale
from flask import Flask, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import get_locale
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import ServiceUnavailable

from errors import PinganError
from extensions import babel, csrf, db, limiter, login_manager, migrate, ping_on_checkout

LOCALES = ("zh", "en")


def create_app(config: Mapping[str, Any] | None = None, instance_path: str | os.PathLike | None = None) -> Flask:
    """The app; its instance folder (the SQLite database, the generated secret key, built files,
    attachments …) is `instance_path`, else INSTANCE_PATH from the environment, else instance/
    beside this file (the tests give every app and subprocess a temporary one: tests/conftest.py)."""
    where = instance_path or os.environ.get("INSTANCE_PATH") or None
    app = App(__name__, instance_path=str(Path(where).resolve()) if where else None, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=database_url(os.environ.get("DATABASE_URL"), app.instance_path),
        # hide_parameters: a failed statement's values (answers, keyed hashes) stay out of the logs.
        # Pooled connections are pinged at checkout (extensions.ping_on_checkout: after a PostgreSQL
        # restart they are tested and replaced, not failed), but for the resident POST, which retries.
        SQLALCHEMY_ENGINE_OPTIONS={"hide_parameters": True},
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,  # admin uploads; the resident form sets its own, far smaller, limit
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("HTTPS") == "1",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=os.environ.get("HTTPS") == "1",
        HTTPS=os.environ.get("HTTPS") == "1",  # served over HTTPS only: HSTS on every response
        WTF_CSRF_TIME_LIMIT=None,  # a resident may take a while; the token is still bound to the session
        RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        RATELIMIT_HEADERS_ENABLED=True,
        # A Redis outage must not turn residents away: fall back to per-process limits.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        # Proxies in front of the app (nginx = 1): their X-Forwarded-For gives the client's IP,
        # which the rate limit and the burst and repeat-device flags depend on.
        PROXY_COUNT=int(os.environ.get("PROXY_COUNT", "0")),
        # Office sign-in: a locked account stays locked this long, whatever password comes next.
        LOGIN_MAX_FAILURES=5,
        LOGIN_LOCK_MINUTES=15,
        LOGIN_RATE_LIMIT="30 per minute",  # login POSTs per client IP
        PERMANENT_SESSION_LIFETIME=8 * 3600,  # an office working day
        API_RATE_LIMIT=os.environ.get("API_RATE_LIMIT", "120 per minute; 3000 per hour"),  # per API token
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        # The issuing office on documents (survey/offices.py, docs/formats.md): {scope} is the wave's
        # scope, so a county's wave names the county's office; notices carry 文号, 抄送, 联系人 and 电话.
        OFFICE_NAME=os.environ.get("OFFICE_NAME", "{scope}社会治安综合治理委员会办公室"),
        DOC_NUMBER_PREFIX=os.environ.get("DOC_NUMBER_PREFIX", "{scope}综治办"),
        NOTICE_CC=os.environ.get("NOTICE_CC", "{scope}委政法委"),
        NOTICE_CONTACT=os.environ.get("NOTICE_CONTACT", ""),
        NOTICE_PHONE=os.environ.get("NOTICE_PHONE", ""),
        # Fernet key of the phone numbers of call lists (survey/calls.py, docs/security.md); none: no import
        PHONE_NUMBER_KEY=os.environ.get("PHONE_NUMBER_KEY") or None,
        # The residents' side (survey/): where printed links point, and the intake's limits and flags.
        PUBLIC_BASE_URL=os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        SURVEY_MAX_BODY=64 * 1024,  # bytes of one resident POST; a questionnaire is a few KB
        # Rate limits (docs/security.md): per address loose enough for a village session behind one
        # carrier NAT (30 residents in ten minutes, with retries), per device cookie tight.
        SURVEY_RATE_LIMIT="60 per minute; 600 per hour",  # POSTs per client IP
        # POSTs per device cookie (docs/security.md); from the environment so a load test can lift it
        SURVEY_DEVICE_RATE_LIMIT=os.environ.get("SURVEY_DEVICE_RATE_LIMIT", "10 per minute; 30 per hour"),
        SURVEY_CODE_RATE_LIMIT="60 per minute",  # short-code look-ups per client IP
        SPEEDER_SECONDS=10,  # the least speeder threshold in seconds; 0 = the `speeder` rule off
        SPEEDER_SECONDS_PER_ITEM=3,  # flag `speeder` below this many seconds per item shown
        BURST_COUNT=10,  # flag `burst` at this many responses from one IP hash ...
        BURST_MINUTES=10,  # ... within this many minutes ...
        BURST_ALIKE_SHARE=0.5,  # ... when at least this share of them (and more than usual) are near-identical
        # Background jobs (docs/jobs.md): where built files are kept (default instance/jobs), and
        # JOBS_IMMEDIATE runs each job inside the call that enqueues it (Huey's immediate mode: tests).
        JOBS_DIR=os.environ.get("JOBS_DIR"),
        JOBS_IMMEDIATE=False,
        # The results page's charts are drawn right after an analysis run (jobs.charts.warm); the
        # tests turn it off, as the page then draws what it shows (tests/jobs turn it on again).
        JOBS_WARM_CHARTS=True,
        # Only the worker (worker.py) turns this on: loading a wave's responses then pauses the garbage
        # collector (survey.results.bulk_loading). The web process never switches it: it holds for
        # the whole process, every thread.
        PAUSE_GC_WHILE_LOADING=False,
        REPEAT_DEVICE_MINUTES=30,  # flag `repeat_device`: same IP and User-Agent hashes, new cookie, within this
        # 网格员 (docs/security.md "Collectors"): POSTs per collector account, and the hourly pace
        # from which a collector's sheet is flagged `collector_pace`.
        COLLECTOR_RATE_LIMIT=os.environ.get("COLLECTOR_RATE_LIMIT", "20 per hour; 150 per day"),
        COLLECTOR_PACE_PER_HOUR=int(os.environ.get("COLLECTOR_PACE_PER_HOUR", "8")),
        # 约谈 cases (docs/method.md "Due dates"): the 约谈 is due this many days after the list was
        # issued, unless the wave sets its own number (waves.interview_days, on the wave page).
        INTERVIEW_DUE_DAYS=int(os.environ.get("INTERVIEW_DUE_DAYS", "15")),
        # Case attachments (docs/security.md "Attachments"): stored under this directory (default
        # instance/attachments), each file at most this many bytes.
        ATTACHMENTS_DIR=os.environ.get("ATTACHMENTS_DIR") or None,
        ATTACHMENT_MAX_BYTES=int(os.environ.get("ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024))),
        # The 待办 e-mail digest (`flask --app app todo digest`, docs/formats.md): sent only when
        # MAIL_SERVER is set.
        MAIL_SERVER=os.environ.get("MAIL_SERVER") or None,
        MAIL_PORT=int(os.environ.get("MAIL_PORT", "25")),
        MAIL_USERNAME=os.environ.get("MAIL_USERNAME") or None,
        MAIL_PASSWORD=os.environ.get("MAIL_PASSWORD") or None,
        MAIL_USE_TLS=os.environ.get("MAIL_USE_TLS") == "1",  # STARTTLS after connecting
        MAIL_USE_SSL=os.environ.get("MAIL_USE_SSL") == "1",  # TLS from the start (port 465)
        MAIL_DEFAULT_SENDER=os.environ.get("MAIL_DEFAULT_SENDER", "pingan@localhost"),
        # Where the console is reached, for the links in the digest (default: PUBLIC_BASE_URL).
        CONSOLE_BASE_URL=os.environ.get("CONSOLE_BASE_URL") or None,
    )
    if config:
        app.config.from_mapping(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(app.instance_path)

    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    app.session_interface = SessionInterface()
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            ping_on_checkout(engine)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    from admin.accounts import load_user  # here, not at module load: app imports no blueprint package

    login_manager.user_loader(load_user)
    login_manager.login_view = "admin.login"
    login_manager.session_protection = "strong"
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale
    limiter.init_app(app)

    import models  # noqa: F401  (registers the tables with the metadata)

    register_blueprints(app)
    from jobs.queue import bind  # the app the worker runs jobs in

    bind(app)
    register_security_headers(app)
    register_health_check(app)
    register_commands(app)
    register_error_handlers(app)
    return app


class App(Flask):
    """Flask, which keeps per function whether it is a coroutine function: Flask asks
    `inspect.iscoroutinefunction` of every hook and view on every request (ten times for a resident's
    request, 2% of its CPU), and the answer never changes for a function. (`ensure_sync` is Flask's
    documented point for changing how async functions are run; this changes nothing else.)"""

    def ensure_sync(self, func):
        if _is_coroutine_function(func):
            return self.async_to_sync(func)
        return func


@functools.lru_cache(maxsize=1024)  # hooks and views: a few dozen; a function made per request only churns it
def _cached_is_coroutine_function(func) -> bool:
    return inspect.iscoroutinefunction(func)


def _is_coroutine_function(func) -> bool:
    try:
        return _cached_is_coroutine_function(func)
    except TypeError:  # an unhashable callable object
        return inspect.iscoroutinefunction(func)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with its signing serializer made once per set of keys: Flask
    makes one on every request, even to open the empty session of a request without a cookie (a
    resident's), which was 3% of a submission's CPU. A request without the cookie (every resident's)
    gets its empty session at once, and saving an empty session that was not modified returns before
    Flask reads the seven cookie settings it needs only to set or delete the cookie: the same
    response (`Vary: Cookie` when the session was read)."""

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        found = app.extensions.get("session_serializer")
        if found is None or found[0] != keys:
            found = app.extensions["session_serializer"] = (keys, super().get_signing_serializer(app))
        return found[1]

    def open_session(self, app: Flask, request):
        if self.get_cookie_name(app) not in request.cookies:  # (`in`: a missing key's .get raises and catches)
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response) -> None:
        if not session and not session.modified:
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def database_url(url: str | None, instance_path: str) -> str:
    """DATABASE_URL, defaulting to an SQLite file in instance/; PostgreSQL goes through psycopg 3."""
    if not url:
        return f"sqlite:///{Path(instance_path) / 'pingan.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, or one generated once and kept in instance/.

    In production (PINGAN_PRODUCTION=1) every server must share the key, so a missing
    SECRET_KEY is an error rather than a fresh key per machine.
    """
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    if os.environ.get("PINGAN_PRODUCTION") == "1":
        raise RuntimeError("SECRET_KEY must be set in production (PINGAN_PRODUCTION=1)")
    path = Path(instance_path) / "secret_key"
    try:
        # O_EXCL: when several workers start at once, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if key:
            return key
        raise RuntimeError(f"{path} is empty; delete it to generate a new key") from None
    with os.fdopen(fd, "w") as f:
        key = secrets.token_hex(32)
        f.write(key)
    return key


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL (readers never block the writer), enforced foreign keys, and patience under load."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def select_locale() -> Locale:
    """?lang= wins, then the `lang` cookie, then, on the residents' pages, the browser's
    Accept-Language (its best match among zh and en, by quality), then Chinese. The console and
    the public board are Chinese whatever the browser says (docs/security.md); the console's preview
    of the resident page passes ?lang=.

    A Locale made once (_LOCALE_OBJECTS), not its name: Flask-Babel parses a name into a Locale on
    every request (13 µs, more than the rest of this)."""
    # `in` before reading: MultiDict.get raises and catches an exception for a missing key.
    for source in (request.args, request.cookies):
        if "lang" in source and source["lang"] in LOCALES:
            return _LOCALE_OBJECTS[source["lang"]]
    if request.blueprint != "survey":
        return _LOCALE_OBJECTS["zh"]
    # By the browser's own order of preference: "en-GB,zh;q=0.5" is English. (werkzeug's best_match
    # prefers an exact tag of lower quality, zh, over a language of higher quality, en-GB.)
    for tag, _quality in request.accept_languages:
        language = tag.split("-")[0].split("_")[0].lower()
        if language in LOCALES:
            return _LOCALE_OBJECTS[language]
    return _LOCALE_OBJECTS["zh"]


_LOCALE_OBJECTS = {name: Locale.parse(name) for name in LOCALES}


def register_blueprints(app: Flask) -> None:
    from admin import bp as admin_bp
    from api import bp as api_bp
    from board import bp as board_bp
    from survey import bp as survey_bp

    app.register_blueprint(admin_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # read-only, and authenticated by a bearer token, never by the session cookie
    app.register_blueprint(board_bp)
    app.register_blueprint(survey_bp)


# One policy fits every page: scripts and styles come from /static only (no inline <script>,
# no event-handler attributes in any template); style attributes (progress bars, indents) and
# the reports' <style> blocks need 'unsafe-inline' for styles only; images are ours or data: URIs
# (charts, QR codes); the progress table fetches JSON from this site. docs/security.md, "Headers".
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
# Pages that show a password or an API token: never kept by the browser or a proxy.
NO_STORE_ENDPOINTS = frozenset(
    {"admin.user_new", "admin.user_password", "admin.own_password", "admin.tokens", "admin.token_create", "admin.token_revoke",
     "admin.call", "admin.call_outcome"}  # a call page shows a resident's phone number (docs/security.md)
)


def register_security_headers(app: Flask) -> None:
    """The headers of every response, set in one place (a view's own CSP or framing is kept)."""

    @app.after_request
    def security_headers(response):
        headers = response.headers
        # The names present, read in one pass: each of Headers' own look-ups of a missing name
        # raises and catches an exception (six per page, 3% of a resident request's CPU).
        present = {name.lower(): value for name, value in reversed(list(headers.items()))}  # the first value of each
        if "x-content-type-options" not in present:
            headers.add("X-Content-Type-Options", "nosniff")
        if "referrer-policy" not in present:
            headers.add("Referrer-Policy", "same-origin")
        if app.config.get("HTTPS") and "strict-transport-security" not in present:
            headers.add("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint in NO_STORE_ENDPOINTS:
            headers["Cache-Control"] = "no-store"
        if response.mimetype == "text/html":
            # The questionnaire preview is framed by the console itself: it says SAMEORIGIN.
            framing = present.get("x-frame-options")
            if framing is None:
                headers.add("X-Frame-Options", "DENY")
            policy = _FRAMED_POLICY if framing == "SAMEORIGIN" else _UNFRAMED_POLICY
            own = present.get("content-security-policy")
            headers["Content-Security-Policy"] = f"{own}; {policy}" if own else policy
        return response


_FRAMED_POLICY = f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'self'"
_UNFRAMED_POLICY = f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'none'"


def register_health_check(app: Flask) -> None:
    """GET /healthz: 200 "ok" when the database answers, for the reverse proxy and the load tests."""
    from sqlalchemy import text

    @app.get("/healthz")
    def healthz():
        db.session.execute(text("SELECT 1"))
        return "ok", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


def register_commands(app: Flask) -> None:
    from admin.cli import interviews_cli, user_cli
    from admin.todo_cli import todo_cli  # also adds `user email` to user_cli
    from demo.cli import demo_cli
    from jobs.cli import jobs_cli
    from reports.cli import report_cli
    from survey.cli import register as register_survey_commands

    register_survey_commands(app)
    app.cli.add_command(demo_cli)
    app.cli.add_command(user_cli)
    app.cli.add_command(interviews_cli)
    app.cli.add_command(todo_cli)
    app.cli.add_command(report_cli)
    app.cli.add_command(jobs_cli)


def register_error_handlers(app: Flask) -> None:
    from web import Request, check_url

    # Bad input is refused before any view runs (web.check_url), and a query string that is
    # not UTF-8 is read like a percent-encoded one instead of failing every page, errors included.
    app.request_class = Request
    app.url_value_preprocessor(check_url)

    def wants_json() -> bool:
        return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"

    @app.errorhandler(PinganError)
    def domain_error(error: PinganError):
        if wants_json():
            return jsonify(error={"code": error.code, "message": error.message}), error.status
        return render_template("error.html", status=error.status, message=error.message), error.status

    messages = {
        400: "请求有误,请返回重试。",
        403: "您没有权限访问此页面。",
        404: "页面不存在,请检查链接是否完整。",
        405: "不支持此操作。",
        410: "此链接已失效。",
        413: "提交的内容过大。",
        429: "操作过于频繁,请稍后再试。",
        500: "服务器出了点问题,请稍后再试。我们已记录此错误。",
        503: "系统正忙,请稍等片刻后再试。",
    }

    def http_error(error):
        status = getattr(error, "code", 500) or 500
        message = messages.get(status, messages[500])
        # The exception's own headers stay: Allow on a 405 (RFC 9110), Retry-After on a 429.
        headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        if wants_json():
            return jsonify(error={"code": str(status), "message": message}), status, headers
        return render_template("error.html", status=status, message=message), status, headers

    for status in messages:
        app.register_error_handler(status, http_error)

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError):
        # The database cannot be reached (restarting, failing over, locked): a 503 that says
        # "try again" (a resident's retry of the same form stores once), not a 500 and a traceback.
        app.logger.error("database unavailable: %s", type(error.orig).__name__)
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the connection is gone; the pool replaces it
            pass
        return app.handle_http_exception(ServiceUnavailable(retry_after=5))
