"""The console's error for bad input in one field of a form: a 422 with the message beside the field."""

from __future__ import annotations

from errors import PinganError


class FieldError(PinganError):
    """Input a service refuses, naming the form field it belongs to (HTTP 422)."""

    status = 422

    def __init__(self, field: str, message: str, code: str = "invalid_field") -> None:
        super().__init__(message, code)
        self.field = field
