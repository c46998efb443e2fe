"""One domain error type, turned into a page, JSON or a CLI message in one place each.

The catalogue (code, HTTP status, Chinese message) is listed in docs/architecture.md
("Errors"). This module is pure — no Flask, no database — so that analysis/ can raise
PinganError subclasses too; the request-level checks live in web.py. Services raise these,
never flask.abort(); app.register_error_handlers renders a page or JSON, survey/cli.py's
reports_errors prints `错误: …` and exits 1.
"""

from __future__ import annotations


class PinganError(Exception):
    """A request the product refuses, with a code for programs and a Chinese message for people."""

    status = 400

    def __init__(self, message: str, code: str = "invalid", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message


class NotFound(PinganError):
    status = 404

    def __init__(self, message: str, code: str = "not_found") -> None:
        super().__init__(message, code)


class Forbidden(PinganError):
    """The account may see the target but not do this to it (HTTP 403); see policy.require."""

    status = 403

    def __init__(self, message: str = "您没有权限执行此操作", code: str = "forbidden") -> None:
        super().__init__(message, code)


class Conflict(PinganError):
    status = 409

    def __init__(self, message: str, code: str = "conflict") -> None:
        super().__init__(message, code)


class FileProblem(PinganError):
    """A bad input file: names the file, line and column, as an editor would."""

    def __init__(self, file: str, line: int | None, column: str | int | None, message: str) -> None:
        self.file, self.line, self.column = file, line, column
        where = file
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {message}", code="bad_file")
        self.detail = message
