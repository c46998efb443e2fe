"""The floor of this stack for bench/load.py: a bare Flask endpoint that inserts one row.

Same gunicorn (gunicorn.conf.py), same Flask and Flask-SQLAlchemy, same PostgreSQL and
driver as the product; nothing else (no templates, forms, CSRF, rate limit or flags).

    GUNICORN_BIND=127.0.0.1:8001 DATABASE_URL=postgresql://... gunicorn -c gunicorn.conf.py "bench.baseline_app:create_app()"
"""

from __future__ import annotations

import os

from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

db = SQLAlchemy()

TABLE = "CREATE TABLE IF NOT EXISTS baseline_rows (id bigserial PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"


def create_app() -> Flask:
    app = Flask(__name__)
    url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    app.config.update(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True})
    db.init_app(app)

    @app.get("/healthz")
    def healthz():
        db.session.execute(text("SELECT 1"))
        return "ok"

    @app.post("/insert")
    def insert():
        db.session.execute(text("INSERT INTO baseline_rows (body) VALUES (:body)"), {"body": request.get_data(as_text=True)})
        db.session.commit()
        return "stored"

    return app
