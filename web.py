"""Request-level input checks, registered by app.register_error_handlers.

Split from errors.py (which must stay free of Flask: analysis/ imports it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import flask
from flask import abort, request
from werkzeug.datastructures import MultiDict
from werkzeug.utils import cached_property


# -- requests no view can serve -----------------------------------------------------------
#
# Registered by app.register_error_handlers. Bad input is answered here, before a view turns it
# into a query the database refuses with an error of its own (a 500).

# The id columns are PostgreSQL `integer`: a larger number in a URL names no row, but as a
# query parameter it is an error ("integer out of range"; SQLite: OverflowError past 2^63).
MAX_ID = 2**31 - 1


def check_url(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """404 for a URL part no row can match, 400 for a query value no field can hold.

    PostgreSQL's text columns refuse NUL (U+0000), so `/api/v1/waves/a%00b` or `?wave=%00`
    would end in a database error rather than in "not found".
    """
    for value in (values or {}).values():
        if isinstance(value, str) and "\x00" in value:
            abort(404)
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_ID:
            abort(404)
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            abort(400)


class Request(flask.Request):
    """Flask's request, reading a query string that is not UTF-8 as Werkzeug reads a
    percent-encoded one: the bad bytes stay percent-encoded (`%FF`).

    Werkzeug decodes `?code=%FF` leniently but raw bytes (`?code=\\xff`, which curl and many
    bots send) strictly, so `request.args` raised UnicodeDecodeError wherever it was first
    read — the locale, the rate limit's exemption, the login redirect — and even the error
    page for that failed the same way.
    """

    @cached_property
    def args(self) -> MultiDict[str, str]:
        return self.parameter_storage_class(
            parse_qsl(self._query_text, keep_blank_values=True, errors="werkzeug.url_quote")
        )

    @cached_property
    def full_path(self) -> str:
        return f"{self.path}?{self._query_text}"

    @property
    def _query_text(self) -> str:
        return self.query_string.decode("utf-8", "werkzeug.url_quote")
