"""Reading a PDF back in tests: a test of a PDF checks what it says, never only its header."""

from __future__ import annotations

import io

from pypdf import PdfReader


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text (pypdf), without spaces or line breaks, so a wrapped phrase still matches."""
    return ["".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(data)).pages]


def pdf_text(data: bytes) -> str:
    """Every page's text, as `pdf_pages`, joined."""
    return "".join(pdf_pages(data))
