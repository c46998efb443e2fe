"""The Flask extensions, created unbound and attached in `app.create_app`."""

import functools
import hmac

from flask import current_app, g, has_request_context
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter._compat import request_context as limiter_request_context
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so that Alembic can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()


def hashed_remote_address() -> str:
    """The rate limits' key for a client: an HMAC of its address with the secret key, so that the
    limit store (Redis in production) never holds a resident's raw IP address."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.digest(secret, f"ratelimit:{get_remote_address()}".encode(), "sha256").hex()[:32]


class _Limiter(Limiter):
    """Flask-Limiter, which returns at once from its check before every request when a request
    filter exempts the request (the resident questionnaire: survey.views). Flask-Limiter itself
    still looks up the view, resolves its limits and evaluates the (here absent) meta limits before
    it finds that every limit is exempt: 3% of a resident submission's CPU. Equivalent while the
    app sets no meta limits (RATELIMIT_META), which apply even to exempt requests."""

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and not self._meta_limits and any(fn() for fn in self._request_filters):
            return
        super()._check_request_limit(callable_name, in_middleware)

    def init_app(self, app) -> None:
        """Flask-Limiter's, with its after-request hook (conditional deductions, the X-RateLimit
        headers) and its teardown returning at once for a request in which it evaluated no limit:
        both work on the request's limiter context, which such a request (the resident
        questionnaire, filtered above) never made, and each made an empty one only to find nothing
        in it (2% of a submission's CPU). With no context they have nothing to do, on any request."""
        super().init_app(app)
        own = 0
        for hooks in (app.after_request_funcs.setdefault(None, []), app.teardown_request_funcs.setdefault(None, [])):
            for i, hook in enumerate(hooks):
                if _is_hook_of(hook, self):
                    hooks[i] = _only_with_limiter_context(hook)
                    own += 1
        self.hooks_skipping_idle_requests = own  # 2, or Flask-Limiter changed (tests/test_app.py checks)


def _is_hook_of(hook, limiter: Limiter) -> bool:
    """Flask-Limiter's after-request hook, `partial(Limiter.__inject_headers, limiter)`, or its
    teardown, the bound `limiter.__release_context`."""
    if isinstance(hook, functools.partial):
        return hook.func is getattr(Limiter, "_Limiter__inject_headers", None) and hook.args == (limiter,)
    return getattr(hook, "__self__", None) is limiter and getattr(hook, "__func__", None) is getattr(
        Limiter, "_Limiter__release_context", None
    )


def _only_with_limiter_context(hook):
    def hook_if_limits_were_evaluated(response_or_error=None):
        if not hasattr(limiter_request_context(), "_limiter_request_context"):
            return response_or_error  # the response unchanged (a teardown's return value is ignored)
        return hook(response_or_error)

    return hook_if_limits_were_evaluated


limiter = _Limiter(key_func=hashed_remote_address, default_limits=[])


# -- stale pooled connections ------------------------------------------------------------------
#
# After a PostgreSQL restart every pooled connection is dead. Each one checked out of the pool is
# pinged first (SQLAlchemy's pool_pre_ping, done here by `ping_on_checkout`), so that a page never
# fails on one: a dead one is replaced. The ping is a round trip of its own, a sixth of the resident
# POST's, so the POST skips it and retries instead (`retry_on_stale_connection`): it is the one
# request that can be run again safely (its ticket is its idempotency key) and it is most of the load.


def ping_on_checkout(engine: Engine) -> None:
    """pool_pre_ping, except inside `retry_on_stale_connection`."""

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, connection_record, connection_proxy) -> None:
        if has_request_context() and g.get("db_retries_stale"):
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if not dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            raise DisconnectionError(f"pooled connection failed its ping: {type(exc).__name__}") from exc


def retry_on_stale_connection(view):
    """Run `view` without pinging the connections it checks out, and once more if one of them
    turns out dead (SQLAlchemy then marks the error `connection_invalidated` and drops the whole
    pool, so the second run gets a fresh connection). Only for a view that is safe to run again
    after any statement of it failed: the resident POST, whose INSERT is idempotent by its ticket."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        g.db_retries_stale = True
        try:
            return view(*args, **kwargs)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            db.session.rollback()
            current_app.logger.warning("database connection was stale (%s): the request runs again", type(exc.orig).__name__)
            g.db_retries_stale = False  # this time with the ping: a second failure is a real one
            return view(*args, **kwargs)
        finally:
            g.db_retries_stale = False

    return wrapped
