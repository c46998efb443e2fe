"""The floor of this stack for bench/load.py: the two requests of a submission with no logic.

A resident's submission is two requests: GET the form, POST the answers. The floor serves the
same two with nothing in between (issue 17):
- `GET /form` returns a fixed HTML page of the resident form's size (BASELINE_PAGE_BYTES, which
  bench/load.py measures on the product's own page) from memory;
- `POST /insert` inserts one row through Flask-SQLAlchemy Core (a Core `insert()` of a `Table`,
  as survey.intake does) and commits.
Same gunicorn (gunicorn.conf.py), Flask, Flask-SQLAlchemy, PostgreSQL and driver as the product;
no templates, forms, tickets, rate limits or flags.

    GUNICORN_BIND=127.0.0.1:8001 DATABASE_URL=postgresql://... gunicorn -c gunicorn.conf.py "bench.baseline_app:create_app()"
"""

from __future__ import annotations

import os

from flask import Flask, Response, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text, func, text

db = SQLAlchemy()

TABLE = "CREATE TABLE IF NOT EXISTS baseline_rows (id bigserial PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
rows = Table(
    "baseline_rows",
    MetaData(),
    Column("id", BigInteger, primary_key=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)
_INSERT = rows.insert()  # built once, as the product's statements are
DEFAULT_PAGE_BYTES = 12_000


def page(size: int) -> bytes:
    """A fixed HTML page of `size` bytes (UTF-8), a form with one hidden field like the product's."""
    head = '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>问卷</title><form method="post" action="/insert"><input type="hidden" name="ticket" value="t">'
    tail = "</form></html>"
    filler = "<p>" + "安" * max(0, (size - len(head.encode()) - len(tail.encode()) - 7) // 3) + "</p>"
    body = (head + filler + tail).encode()
    return body + b" " * max(0, size - len(body))


def create_app() -> Flask:
    app = Flask(__name__)
    url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    app.config.update(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True})
    db.init_app(app)
    form_page = page(int(os.environ.get("BASELINE_PAGE_BYTES", DEFAULT_PAGE_BYTES)))

    @app.get("/healthz")
    def healthz():
        db.session.execute(text("SELECT 1"))
        return "ok"

    @app.get("/form")
    def form():
        return Response(form_page, mimetype="text/html")

    @app.post("/insert")
    def insert():
        db.session.execute(_INSERT, {"body": request.get_data(as_text=True)})
        db.session.commit()
        return "stored"

    return app
