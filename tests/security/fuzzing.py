"""The Hypothesis profile of the security tests, and the text they try on every input.

The profile is modest, so that the folder stays a small part of `make test`; raise it for a
deeper run with FUZZ_EXAMPLES, e.g. `FUZZ_EXAMPLES=2000 pytest tests/security`. No example
database: a failure prints its `@reproduce_failure` blob rather than writing `.hypothesis/`
into the working tree.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile(
    "security",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "80")),
    deadline=None,  # a request to an app on PostgreSQL may take a while; speed is not the property
    database=None,
    print_blob=True,
    # One app (and database) per test, shared by its examples: each example uses clients of its
    # own and compares the database before and after itself.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings(settings.get_profile("security"))

# Text no form, URL or header may choke on: NUL and other controls, bidirectional overrides and
# marks, a BOM, line and paragraph separators, astral characters, noncharacters, lone surrogates
# (which a client can only send as the bytes of no character), markup, SQL and template syntax.
NASTY = (
    "\x00", "\x01", "\x08", "\x0b", "\x1b[31m", "\x7f", "\x85", "\r", "\r\n", "\t", " ", "\u3000",
    "\u202e", "\u200f", "\u200b", "\u2066", "\ufeff", "\u2028", "\u2029",
    "\ufffe", "\uffff", "\U0010ffff", "𝕏", "🏠", "治", "é",
    "\ud800", "\udfff", "\udc80",
    "<script>alert(1)</script>", "' OR '1'='1", "%00", "%ff", "{{7*7}}", "${jndi:x}", "../../", "a,b", '"', "&", "=", "+",
)


def nasty_text(max_size: int = 12) -> st.SearchStrategy[str]:
    """Strings mixing ordinary text with the NASTY pieces."""
    piece = st.one_of(st.sampled_from(NASTY), st.text(max_size=6))
    return st.lists(piece, max_size=max_size).map("".join)


def to_bytes(text: str) -> bytes:
    """UTF-8, with lone surrogates as the three bytes a careless client would send for them."""
    return text.encode("utf-8", "surrogatepass")


def has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def assert_no_stack_trace(response) -> None:
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and 'File "' not in body, body[:500]
