"""A response's choice answers as a fixed-width row of bytes, so that a wave decodes in one read.

The responses table keeps each response's answers as JSON (the source of truth for exports and the
answer sheet) and, beside it, these bytes (`responses.answer_codes`) and its free texts
(`responses.answer_texts`). Every writer stores all three through `models.responses.answer_columns`
(or a `Packer` it keeps for a whole file);
`survey.results` joins a wave's rows into one buffer and `numpy.frombuffer` turns it into an
(n, width) array: no JSON decode per row (docs/performance.md, "Answers in a packed column").

The layout is a function of the questionnaire version alone (a version used by a wave never changes),
each choice item in questionnaire order:

- single choice: 1 byte (2, little-endian, past 255 options): 0 = not answered, i + 1 = option i;
- `multiple`: ceil(options / 8) bytes, bit i % 8 of byte i // 8 set when option i was chosen;
- free text: no bytes (it goes to `answer_texts`).

No library does this: it is the byte layout of this table's column (numpy reads it, Python writes it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from .spec import Item, QuestionnaireSpec


@dataclass(frozen=True)
class Field:
    item: Item
    offset: int
    width: int
    position: dict[str, int]  # option code → index


class Packer:
    """The layout of one questionnaire version, and the packing of one response's answers."""

    def __init__(self, spec: QuestionnaireSpec) -> None:
        fields: list[Field] = []
        offset = 0
        for it in spec.items:
            if not it.is_choice:
                continue
            k = len(it.options)
            width = (k + 7) // 8 if it.is_multiple else (1 if k < 256 else 2)
            fields.append(Field(it, offset, width, {o.code: i for i, o in enumerate(it.options)}))
            offset += width
        self.fields = tuple(fields)
        self.width = offset
        self.text_keys = tuple(it.key for it in spec.items if not it.is_choice)

    def pack(self, answers: dict) -> bytes | None:
        """The choice answers as bytes; None when an answer is not one of its item's codes (the loader then
        reads the JSON, and the analysis names the bad code as it always did)."""
        out = bytearray(self.width)
        for f in self.fields:
            value = answers.get(f.item.key)
            if value is None or value == "" or value == []:
                continue
            if f.item.is_multiple:
                parts = value if isinstance(value, list) else [p.strip() for p in str(value).split(";") if p.strip()]
                for code in parts:
                    i = f.position.get(code)
                    if i is None:
                        return None
                    out[f.offset + i // 8] |= 1 << (i % 8)
                continue
            i = f.position.get(value) if isinstance(value, str) else None
            if i is None:
                return None
            out[f.offset:f.offset + f.width] = (i + 1).to_bytes(f.width, "little")
        return bytes(out)

    def texts(self, answers: dict) -> str | None:
        """The free-text answers as JSON, or None when there is none."""
        found = {key: answers[key] for key in self.text_keys if answers.get(key) not in (None, "")}
        return json.dumps(found, ensure_ascii=False) if found else None


@lru_cache(maxsize=64)
def packer(spec: QuestionnaireSpec) -> Packer:
    return Packer(spec)


def unpack(spec: QuestionnaireSpec, packed: bytes, n: int) -> dict[str, pd.Categorical]:
    """n rows of `pack` joined into one buffer → each choice item's column: a Categorical of its option
    codes (NaN = not answered; a `multiple` item's categories are the codes joined by ";")."""
    lay = packer(spec)
    rows = np.frombuffer(packed, dtype=np.uint8).reshape(n, lay.width) if n else np.zeros((0, lay.width), np.uint8)
    out: dict[str, pd.Categorical] = {}
    for f in lay.fields:
        codes = [o.code for o in f.item.options]
        block = rows[:, f.offset:f.offset + f.width]
        if not f.item.is_multiple:
            slot = block[:, 0].astype(np.int32)
            if f.width == 2:
                slot |= block[:, 1].astype(np.int32) << 8
            out[f.item.key] = pd.Categorical.from_codes(slot - 1, categories=codes)
            continue
        # a handful of distinct sets: each named once
        mask = np.zeros(n, dtype=np.int64) if f.width <= 7 else None
        if mask is not None:
            for b in range(f.width):
                mask |= block[:, b].astype(np.int64) << (8 * b)
            distinct, which = np.unique(mask, return_inverse=True)
        else:
            distinct, which = np.unique(block, axis=0, return_inverse=True)
        names: list[str | None] = []
        for d in distinct:
            bits = (
                [i for i in range(len(codes)) if (int(d) >> i) & 1]
                if mask is not None
                else [i for i in range(len(codes)) if (d[i // 8] >> (i % 8)) & 1]
            )
            names.append(";".join(codes[i] for i in bits) if bits else None)
        labels = [x for x in names if x is not None]
        index = {x: j for j, x in enumerate(labels)}
        remap = np.array([-1 if x is None else index[x] for x in names], dtype=np.int32)
        out[f.item.key] = pd.Categorical.from_codes(remap[which.ravel()] if len(remap) else which.ravel(), categories=labels)
    return out
