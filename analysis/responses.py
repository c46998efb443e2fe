"""Responses as integer arrays, and the respondent-level indicator values of docs/method.md."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import AnalysisError, _sample
from .hierarchy import Hierarchy
from .spec import Item, QuestionnaireSpec


@dataclass(frozen=True, eq=False)
class CodedResponses:
    """One row per response; every array has length `n`."""

    n: int
    unit: np.ndarray  # hierarchy index of the unit the response is attached to (its stratum)
    psu: np.ndarray  # PSU id 0..n_psu-1, PSUs nested in units; an empty psu makes its own PSU
    n_psu: int
    flagged: np.ndarray  # bool
    answers: dict[str, np.ndarray]  # single-choice item key → option index (questionnaire order), -1 = not answered
    chosen: dict[str, np.ndarray] = field(default_factory=dict)  # `multiple` item key → (n, n_options) bool

    def applies(self, spec: QuestionnaireSpec, key: str) -> np.ndarray:
        """Bool (n,): the respondents to whom the item applied (`show_if`, docs/formats.md).

        An item without `show_if` applies to everyone; with it, to those whose answer to the
        controlling (earlier, single-choice) item is one of its codes, and to whom that item applied.
        """
        item = spec.item(key)
        if item.show_if is None:
            return np.ones(self.n, dtype=bool)
        controller = spec.item(item.show_if.item)
        codes = [i for i, o in enumerate(controller.options) if o.code in item.show_if.codes]
        return np.isin(self.answers[controller.key], codes) & self.applies(spec, controller.key)

    def answered(self, key: str) -> np.ndarray:
        """Bool (n,): the respondents who answered the choice item (a `multiple` one: at least one code)."""
        if key in self.chosen:
            return self.chosen[key].any(axis=1)
        return self.answers[key] >= 0


def _text_column(series: pd.Series) -> pd.Series:
    return series if series.dtype == object or isinstance(series.dtype, pd.StringDtype) else series.astype(object)


def code_responses(spec: QuestionnaireSpec, hierarchy: Hierarchy, responses: pd.DataFrame) -> CodedResponses:
    """Map unit codes, PSUs and option codes to integers; unknown unit or option codes raise AnalysisError."""
    choice_items = [it for it in spec.items if it.is_choice]
    n = len(responses)
    required = ["unit_code"] + ([it.key for it in choice_items] if n else [])
    missing = [c for c in required if c not in responses.columns]
    if missing:
        raise AnalysisError("bad_responses", f"答卷数据缺少列:{_sample(missing)}")
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return CodedResponses(
            0, empty, empty, 0, np.zeros(0, dtype=bool),
            {it.key: empty for it in choice_items if not it.is_multiple},
            {it.key: np.zeros((0, len(it.options)), dtype=bool) for it in choice_items if it.is_multiple},
        )

    ids = responses["response_id"] if "response_id" in responses.columns else pd.Series(np.arange(1, n + 1))

    unit = None
    if isinstance(responses["unit_code"].dtype, pd.CategoricalDtype):  # through its categories (survey.results)
        col = responses["unit_code"]
        table = np.append(pd.Index(list(hierarchy.codes)).get_indexer(col.cat.categories), -1)
        unit = table[col.cat.codes.to_numpy()]
    if unit is None or (unit < 0).any():  # (a unit outside the scope: named below)
        unit_codes = _text_column(responses["unit_code"])
        unit = pd.Index(list(hierarchy.codes)).get_indexer(unit_codes)
    if (unit < 0).any():
        bad = pd.unique(unit_codes[unit < 0].astype(str))
        raise AnalysisError("unknown_unit", f"答卷所属单位不在本次测评范围内:{_sample(bad)}")
    unit = unit.astype(np.int64)

    # PSU = (stratum, psu); an empty psu makes the respondent its own PSU.
    if "psu" in responses.columns:
        psu_raw, uniques = pd.factorize(responses["psu"].to_numpy(dtype=object))
        blanks = [i for i, u in enumerate(uniques) if str(u).strip() == ""]
        if blanks:
            psu_raw[np.isin(psu_raw, blanks)] = -1
        key = unit * (len(uniques) + 1) + psu_raw
        own = psu_raw < 0
        key[own] = -1 - np.nonzero(own)[0]
    else:
        key = -1 - np.arange(n, dtype=np.int64)
    psu, psu_uniques = pd.factorize(key)

    if "flagged" in responses.columns:
        flagged = responses["flagged"].fillna(False).astype(bool).to_numpy()
    else:
        flagged = np.zeros(n, dtype=bool)

    answers: dict[str, np.ndarray] = {}
    chosen: dict[str, np.ndarray] = {}
    for it in choice_items:
        coded_col = _from_categorical(it, responses[it.key])
        if coded_col is not None:
            (chosen if it.is_multiple else answers)[it.key] = coded_col
            continue
        col = _text_column(responses[it.key])
        if it.is_multiple:
            chosen[it.key] = _code_multiple(it, col, ids)
            continue
        codes = [o.code for o in it.options]
        idx = pd.Index(codes).get_indexer(col)
        unmatched = np.flatnonzero(idx < 0)  # not answered, or a bad code
        if len(unmatched):
            raw = col.iloc[unmatched]
            given = raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
            if given.any():
                rows = unmatched[given]
                bad = sorted({str(v) for v in col.iloc[rows]})
                first = ids.iloc[rows[0]]
                raise AnalysisError(
                    "unknown_option",
                    f"题目 “{it.key}” 的答案代码不在选项中:{_sample(bad)}(如答卷 {first});"
                    f"有效代码为 {'、'.join(codes)}",
                )
        answers[it.key] = idx.astype(np.int16 if len(codes) < 32000 else np.int32)

    return CodedResponses(
        n=n,
        unit=unit,
        psu=psu.astype(np.int64),
        n_psu=len(psu_uniques),
        flagged=flagged,
        answers=answers,
        chosen=chosen,
    )


def _from_categorical(item: Item, col: pd.Series) -> np.ndarray | None:
    """A Categorical column (survey.results loads the packed answers as such) coded through its few
    categories rather than its million values; None when it is no Categorical, or one of its categories
    in use is no option (the general path then names the code)."""
    if not isinstance(col.dtype, pd.CategoricalDtype):
        return None
    categories = col.cat.categories
    slots = col.cat.codes.to_numpy()
    if item.is_multiple:
        names = pd.Series(np.asarray(categories, dtype=object))
        try:
            table = _code_multiple(item, names, names)
        except AnalysisError:
            return None
        return np.vstack([table, np.zeros((1, len(item.options)), dtype=bool)])[slots]
    codes = [o.code for o in item.options]
    position = pd.Index(codes).get_indexer(categories)
    if (position < 0).any():  # a category that is no option: only an error if some row has it
        used = np.zeros(len(categories) + 1, dtype=bool)
        used[slots] = True  # slot -1 marks the last entry
        if (position[used[:-1]] < 0).any():
            return None
    dtype = np.int16 if len(codes) < 32000 else np.int32
    if np.array_equal(position, np.arange(len(position))):  # the options in order (as the loader makes them):
        return slots.astype(dtype)  # each slot is its option's index already, -1 blank
    table = np.append(position, -1).astype(dtype)
    return table[slots]


def _code_multiple(item: Item, col: pd.Series, ids: pd.Series) -> np.ndarray:
    """(n, n_options) bool from codes joined by ";" (None or "" = not answered)."""
    n, codes = len(col), [o.code for o in item.options]
    out = np.zeros((n, len(codes)), dtype=bool)
    given = col.notna().to_numpy()
    if not given.any():
        return out
    rows = np.flatnonzero(given)
    parts = col.iloc[rows].reset_index(drop=True).astype(str).str.split(";").explode().str.strip()
    parts = parts[parts != ""]
    position = parts.index.to_numpy(dtype=np.int64)  # 0..len(rows)-1: the row among `rows`
    idx = pd.Index(codes).get_indexer(parts.to_numpy(dtype=object))
    if (idx < 0).any():
        bad = sorted({str(v) for v in parts.to_numpy(dtype=object)[idx < 0]})
        first = ids.iloc[rows[position[np.flatnonzero(idx < 0)[0]]]]
        raise AnalysisError(
            "unknown_option",
            f"题目 “{item.key}” 的答案代码不在选项中:{_sample(bad)}(如答卷 {first});有效代码为 {'、'.join(codes)}",
        )
    out[rows[position], idx] = True
    too_many = np.flatnonzero(out.sum(axis=1) > item.multiple)
    if len(too_many):
        raise AnalysisError(
            "too_many_choices",
            f"题目 “{item.key}” 最多选 {item.multiple} 项,有 {len(too_many)} 份答卷选得更多(如答卷 {ids.iloc[too_many[0]]})",
        )
    return out


def indicator_values(spec: QuestionnaireSpec, coded: CodedResponses) -> np.ndarray:
    """(n, K) respondent-level values, NaN = missing (docs/method.md).

    `items` indicator: mean of the respondent's non-missing item scores (an unscored option such
    as 说不清, or no answer, is missing). `share_of`: 100 if the answer is in `options`, 0 if it is
    another scored option, missing otherwise.
    """
    Y = np.full((coded.n, len(spec.indicators)), np.nan)
    for k, ind in enumerate(spec.indicators):
        if ind.is_share:
            item = spec.item(ind.share_item)
            table = [
                (100.0 if o.code in ind.share_options else 0.0) if o.score is not None else np.nan for o in item.options
            ]
            Y[:, k] = np.array(table + [np.nan])[coded.answers[item.key]]
            continue
        total = np.zeros(coded.n)
        count = np.zeros(coded.n)
        for key in ind.items:
            item = spec.item(key)
            table = np.array([np.nan if o.score is None else float(o.score) for o in item.options] + [np.nan])
            s = table[coded.answers[key]]
            ok = ~np.isnan(s)
            total += np.where(ok, s, 0.0)
            count += ok
        with np.errstate(invalid="ignore", divide="ignore"):
            Y[:, k] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return Y
