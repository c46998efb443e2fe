"""The console's error for bad input in one field of a form: a 422 with the message beside the field."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from errors import PinganError


class FieldError(PinganError):
    """Input a service refuses, naming the form field it belongs to (HTTP 422)."""

    status = 422

    def __init__(self, field: str, message: str, code: str = "invalid_field") -> None:
        super().__init__(message, code)
        self.field = field


@contextmanager
def beside_fields(**field_of: str) -> Iterator[None]:
    """Turn a service's refusal, by its code, into a FieldError of the form field it concerns
    (`beside_fields(bad_title="title")`); any other error passes unchanged."""
    try:
        yield
    except PinganError as e:
        if e.code in field_of:
            raise FieldError(field_of[e.code], e.message) from None
        raise
