"""The one error type of the analysis core (STYLE.md convention 5).

A PinganError (errors.py, a pure module with no Flask), so the web and CLI handlers render it
like any other refusal; docs/architecture.md lists the catalogue.
"""

from __future__ import annotations

from errors import PinganError


class AnalysisError(PinganError):
    """Input the analysis cannot use. `code` is stable (for handlers and tests); `message` is Chinese, for people."""

    status = 422

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code)

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


def _sample(values, limit: int = 5) -> str:
    """A short, readable list of offending values for an error message."""
    values = list(values)
    shown = "、".join(str(v) for v in values[:limit])
    return shown + (f" 等 {len(values)} 个" if len(values) > limit else "")
