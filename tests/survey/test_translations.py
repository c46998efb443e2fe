"""The English catalogue is complete and its compiled .mo is the one committed (not stale)."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "translations" / "en" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}


def extracted() -> set[str]:
    """Every message of the resident pages, as `pybabel extract -F translations/babel.cfg` finds them."""
    with open(ROOT / "translations" / "babel.cfg") as f:
        from babel.messages.frontend import parse_mapping_cfg

        method_map, options_map = parse_mapping_cfg(f)
    ids = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_message_has_an_english_translation():
    with open(CATALOG / "messages.po", "rb") as f:
        po = read_po(f)
    translated = {m.id: m.string for m in po if m.id}
    missing = extracted() - set(translated)
    assert not missing, f"run pybabel extract/update (translations/babel.cfg): {sorted(missing)}"
    assert all(translated.values()), [k for k, v in translated.items() if not v]
    assert not [m.id for m in po if m.id and m.fuzzy]


def test_the_compiled_catalogue_matches_the_po_file():
    with open(CATALOG / "messages.po", "rb") as f:
        po = {m.id: m.string for m in read_po(f) if m.id}
    with open(CATALOG / "messages.mo", "rb") as f:
        mo = {m.id: m.string for m in read_mo(io.BytesIO(f.read())) if m.id}
    assert mo == po, "messages.mo is stale: run `pybabel compile -d translations`"
