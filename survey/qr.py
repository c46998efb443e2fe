"""QR codes of the residents' links (segno), and the export of one PNG per unit with an index.

    flask --app app qr export --wave SLUG --out DIR [--base-url URL] [--mode qr|door]
"""

from __future__ import annotations

import csv
import io
import ipaddress
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import segno
from segno import encoder as _encoder
from flask import current_app
from PIL import Image
from sqlalchemy import select

import caches
from errors import PinganError
from extensions import db
from models import Unit, Wave
from cells import safe_row
from survey.links import link_url, short_codes
from survey.waves import get_wave

# Units a resident answers for. A city or county is only an aggregate: a response attached to it
# would not say which town the resident lives in, so it could not be weighted.
COLLECTION_KINDS = ("town", "village", "grid", "department")
INDEX_COLUMNS = ("unit_code", "name", "url", "short_code")


def collection_units(wave: Wave) -> list[Unit]:
    """The units of the wave's scope that get a link (tree order: by path)."""
    return list(
        db.session.scalars(
            select(Unit).where(wave.scope.subtree_clause(), Unit.kind.in_(COLLECTION_KINDS)).order_by(Unit.path)
        )
    )


_segno_best_mask = _encoder.find_and_apply_best_mask
_N3 = bytes((1, 0, 1, 1, 1, 0, 1))


def _n3(seq: bytes, size: int) -> int:
    count = 0
    idx = seq.find(_N3)
    while idx != -1:
        offset = idx + 7
        if idx in (0, size - 7) or not any(seq[max(idx - 4, 0):min(idx, size)]) \
                or not any(seq[max(offset, 0):min(offset + 4, size)]):
            count += 40
        else:
            offset = idx + 4
        idx = seq.find(_N3, offset)
    return count


def _runs(lines: np.ndarray) -> int:
    """N1 of rows: runs of 5 or more equal modules score length - 2; a 255 column keeps rows apart."""
    flat = np.concatenate([lines, np.full((lines.shape[0], 1), 255, np.uint8)], axis=1).ravel()
    edges = np.flatnonzero(np.diff(flat)) + 1
    lengths = np.diff(np.concatenate(([0], edges, [flat.size])))
    long = lengths[lengths >= 5]
    return int((long - 2).sum())


def _score(m: np.ndarray) -> int:
    size = m.shape[0]
    n1 = _runs(m) + _runs(m.T)
    same = (m[1:, 1:] == m[1:, :-1]) & (m[1:, 1:] == m[:-1, 1:]) & (m[1:, 1:] == m[:-1, :-1])
    n2 = 3 * int(same.sum())
    n3 = sum(_n3(row.tobytes(), size) for row in m) + sum(_n3(col.tobytes(), size) for col in np.ascontiguousarray(m.T))
    percent = float(int(m.sum(dtype=np.int64))) / (size ** 2)
    n4 = 10 * int(abs(percent * 100 - 50) / 5)
    return n1 + n2 + n3 + n4


def find_and_apply_best_mask(matrix, width, height, proposed_mask=None):
    """segno's `encoder.find_and_apply_best_mask` for a QR Code (not Micro), in numpy: the same eight
    masks on the same modules, the same four penalties computed the same way (ISO/IEC 18004:2015
    7.8.3, segno's reading of it: a module still 0x2 counts as dark for N4 and as a colour of its own
    for N1 and N2), the same choice (the lowest score, the first on a tie), the same return value.
    segno evaluates the masks in pure Python, 15-40 ms a symbol, which was most of a wave's first
    posters build (docs/performance.md "Issue 17"); this takes a fifth of that.
    tests/survey/test_links_and_qr.py checks symbol for symbol that it chooses what segno chooses."""
    if proposed_mask is not None or width != height or width < 21:
        return _segno_best_mask(matrix, width, height, proposed_mask)
    function = _encoder.make_matrix(width, height)
    _encoder.add_finder_patterns(function, width, height)
    _encoder.add_alignment_patterns(function, width, height)
    function[-8][8] = 0x1
    encoding = np.array([list(r) for r in function], dtype=np.uint8) > 1
    m0 = np.array([list(r) for r in matrix], dtype=np.uint8)
    i, j = np.indices((height, width))
    ij = i * j
    patterns = (
        (i + j) % 2 == 0, i % 2 == 0, j % 3 == 0, (i + j) % 3 == 0, (i // 2 + j // 3) % 2 == 0,
        (ij % 2) + (ij % 3) == 0, ((ij % 2) + (ij % 3)) % 2 == 0, (((i + j) % 2) + ij % 3) % 2 == 0,
    )
    best = None
    for number, pattern in enumerate(patterns):
        m = m0 ^ (pattern & encoding).astype(np.uint8)
        score = _score(m)
        if best is None or score < best[0]:
            best = (score, number, m)
    return best[1], tuple(bytearray(row.tobytes()) for row in best[2])


# segno's encoder looks the function up by name when it masks a symbol: every symbol this process
# makes (posters, cards, the QR export) is masked by the numpy version above.
_encoder.find_and_apply_best_mask = find_and_apply_best_mask


def _qr(url: str) -> segno.QRCode:
    """The symbol of `url`, encoded once per process (caches.QR_SYMBOLS): segno chooses the best of eight masks in pure
    Python (15–40 ms a code), and the same links are printed again and again (posters, cards, the
    QR export). A QRCode is not changed by saving it."""
    # Level M survives a scuffed or partly covered poster and still gives a coarse, easy-to-scan symbol.
    return caches.QR_SYMBOLS.get_or_make(url, lambda: segno.make(url, error="m", micro=False))


def qr_png(url: str, scale: int = 10) -> bytes:
    """A black-on-white PNG of `url` with the standard four-module quiet zone.

    The pixels are segno's (its matrix, `scale` pixels a module, no smoothing); Pillow writes the
    file, several times faster than segno's pure-Python PNG writer. 8-bit grey, not 1-bit: WeasyPrint
    converts a 1-bit image to RGB and encodes it again for every QR of a posters PDF, and keeps a grey
    one as it is (docs/performance.md). Cached per process (caches.QR_PNGS)."""
    return caches.QR_PNGS.get_or_make((url, scale), lambda: _png(url, scale))


def _png(url: str, scale: int) -> bytes:
    modules = np.pad(np.asarray(_qr(url).matrix, dtype=np.uint8), 4)  # 1 = dark
    grey = np.where(modules == 0, 255, 0).astype(np.uint8)
    image = Image.fromarray(grey).resize((grey.shape[1] * scale, grey.shape[0] * scale), Image.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def public_base_url(base_url: str | None = None) -> str:
    url = (base_url or current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise PinganError(f"网址 “{url}” 无效,应以 http:// 或 https:// 开头")
    return url


def loopback_base(base_url: str | None = None) -> str | None:
    """The configured PUBLIC_BASE_URL when it points at this machine (127.0.0.0/8, ::1, localhost,
    0.0.0.0): a poster or QR code made with it leads residents' phones nowhere. None otherwise."""
    url = (base_url or current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost") or host == "0.0.0.0":
        return url
    try:
        return url if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ExportSummary:
    wave: str
    directory: Path
    files: int

    def __str__(self) -> str:
        return f"调查 {self.wave}:已生成 {self.files} 个二维码和 index.csv,位于 {self.directory}"


def export_wave_qr(wave_slug: str, out_dir: str | Path, base_url: str | None = None, mode: str = "qr") -> ExportSummary:
    """Write `<unit code>.png` for every collection unit of the wave and `index.csv`
    (unit_code,name,url,short_code; UTF-8 with a BOM so that Excel reads the Chinese names)."""
    wave = get_wave(wave_slug)
    base = public_base_url(base_url)
    units = collection_units(wave)
    if not units:
        raise PinganError(f"调查 “{wave.slug}” 的范围内没有可填报的单位(乡镇、村社区、网格或部门)")
    codes = short_codes(wave, units, mode)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        rows = []
        for unit in units:
            url = link_url(base, wave, unit, mode)
            (out / f"{unit.code}.png").write_bytes(qr_png(url))
            rows.append((unit.code, unit.name, url, codes[unit.id]))
        with open(out / "index.csv", "w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(INDEX_COLUMNS)
            writer.writerows(safe_row(r) for r in rows)  # a unit name is never a formula
    except OSError as e:
        raise PinganError(f"无法写入目录 {out}:{e.strerror}") from None
    return ExportSummary(wave=wave.slug, directory=out, files=len(units))


def zip_units(wave: Wave, within: Unit | None = None) -> list[Unit]:
    """The collecting units of the wave a QR zip holds: all of them, or those within `within` (a
    county's part); PinganError when there are none."""
    units = collection_units(wave)
    if not units:
        raise PinganError(f"调查 “{wave.slug}” 的范围内没有可填报的单位(乡镇、村社区、网格或部门)")
    if within is not None:
        units = [u for u in units if u.is_within(within)]
        if not units:
            raise PinganError("您的管辖范围内没有可填报的单位", code="no_units")
    return units


def zip_name(wave: Wave, mode: str, within: Unit | None = None) -> str:
    part = "" if within is None else f"-{within.code}"
    return f"{wave.slug}{part}-{'qr' if mode == 'qr' else 'door'}-codes.zip"


def qr_zip(wave: Wave, units: list[Unit], mode: str = "qr", base_url: str | None = None) -> bytes:
    """A zip of `<unit code>.png` per unit and index.csv (unit_code,name,url,short_code; UTF-8 with
    a BOM for Excel; every cell through cells.safe_row), written in memory. Encoding a code is
    15–40 ms of pure Python (segno's mask choice): for a city a job's work (jobs.service.request_qr_zip)."""
    codes = short_codes(wave, units, mode)
    base = public_base_url(base_url)
    index = io.StringIO()
    writer = csv.writer(index, lineterminator="\r\n")
    writer.writerow(INDEX_COLUMNS)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for unit in units:
            url = link_url(base, wave, unit, mode)
            archive.writestr(f"{unit.code}.png", qr_png(url))
            writer.writerow(safe_row((unit.code, unit.name, url, codes[unit.id])))
        archive.writestr("index.csv", "\ufeff" + index.getvalue())
    return out.getvalue()
