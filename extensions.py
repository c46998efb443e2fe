"""The Flask extensions, created unbound and attached in `app.create_app`."""

import hashlib
import hmac

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
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
    return hmac.new(secret, f"ratelimit:{get_remote_address()}".encode(), hashlib.sha256).hexdigest()[:32]


limiter = Limiter(key_func=hashed_remote_address, default_limits=[])
