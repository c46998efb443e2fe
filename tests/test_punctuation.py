"""Full-width punctuation inside Chinese text (issue 14, 公文 habits): no ASCII , ; : ( ) between two
Chinese characters, in the templates, in the labels the code shows, and on a few rendered pages and
PDF texts.

Besides the test, a fixer::

    python tests/test_punctuation.py --fix FILE...     # rewrite the offenders in place
    python tests/test_punctuation.py FILE...           # list them (exit 1 if any)

The rule (`offenders`): an ASCII `,` `;` `:` `(` `)` is an offender when the nearest visible
character on each side is Chinese (a CJK ideograph, full-width punctuation or Chinese quotes).
Between the two, white space, HTML tags and Jinja tags (`{{ … }}`, `{% … %}`) are looked through, so
`份{% endif %},其中` counts. A bracket that is fixed takes its partner along: `县(区)` becomes `县（区）`.
Code never has an ideograph on both sides of a comma, so the fixer may run over a Python file too.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASCII_TO_FULL = {",": "，", ";": "；", ":": "：", "(": "（", ")": "）"}
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff0f\uff1a-\uff20\u201c\u201d\u2018\u2019\u2014\u2026]")
_SKIP_BACK = (("}}", "{{"), ("%}", "{%"), (">", "<"))
_SKIP_FORWARD = (("{{", "}}"), ("{%", "%}"), ("<", ">"))


def _is_cjk(ch: str) -> bool:
    return bool(_CJK.match(ch))


def _tag_start(text: str, j: int) -> int | None:
    """Where the tag that ends at position j (its last character) starts, or None if none does."""
    if text.startswith("}}", j - 1) or text.startswith("%}", j - 1):
        start = text.rfind("{{" if text[j - 1] == "}" else "{%", 0, j - 1)
        return start if start >= 0 else None
    if text[j] == ">":
        start = text.rfind("<", 0, j)
        if start >= 0 and "\n" not in text[start:j] and re.match(r"</?[A-Za-z]", text[start:start + 3]):
            return start
    return None


def _tag_end(text: str, j: int) -> int | None:
    """Where the tag that starts at position j ends (its last character), or None."""
    for open_, close in (("{{", "}}"), ("{%", "%}")):
        if text.startswith(open_, j):
            end = text.find(close, j + 2)
            return end + 1 if end >= 0 else None
    if text[j] == "<" and re.match(r"</?[A-Za-z]", text[j:j + 2]):
        end = text.find(">", j)
        if end >= 0 and "\n" not in text[j:end]:
            return end
    return None


def _left(text: str, i: int) -> str:
    """The nearest visible character before position i (white space, HTML and Jinja tags looked through)."""
    j = i - 1
    while j >= 0:
        if text[j] in " \t":
            j -= 1
            continue
        start = _tag_start(text, j)
        if start is None:
            return text[j]
        j = start - 1
    return ""


def _right(text: str, i: int) -> str:
    """The nearest visible character after position i."""
    j = i + 1
    while j < len(text):
        if text[j] in " \t":
            j += 1
            continue
        end = _tag_end(text, j)
        if end is None:
            return text[j]
        j = end + 1
    return ""


def _partner(text: str, i: int) -> int | None:
    """The matching ASCII bracket of the one at i, on the same line, or None."""
    if text[i] == "(":
        step, opens, closes, target = 1, "(（", ")）", ")"
    else:
        step, opens, closes, target = -1, ")）", "(（", "("
    depth, j = 0, i
    while 0 <= j < len(text) and text[j] != "\n":
        if text[j] in opens:
            depth += 1
        elif text[j] in closes:
            depth -= 1
            if depth == 0:
                return j if text[j] == target else None
        j += step
    return None


def offenders(text: str) -> list[int]:
    """Positions of the ASCII punctuation to make full-width (with the partners of fixed brackets)."""
    found: set[int] = set()
    work = list(text)
    while True:  # a fixed bracket makes its neighbour a Chinese mark: `(…),未` → `（…），未`
        current, before = "".join(work), len(found)
        for m in re.finditer(r"[,;:()]", current):
            i = m.start()
            if _is_cjk(_left(current, i)) and _is_cjk(_right(current, i)):
                found.add(i)
                if current[i] in "()":
                    partner = _partner(current, i)
                    if partner is not None:
                        found.add(partner)
        for i in found:
            work[i] = ASCII_TO_FULL.get(text[i], work[i])
        if len(found) == before:
            return sorted(found)


def fix(text: str) -> str:
    """The text with its offenders made full-width; a space between a full-width mark and a Chinese
    character goes (full-width marks carry their own space)."""
    chars = list(text)
    for i in offenders(text):
        chars[i] = ASCII_TO_FULL[chars[i]]
        for step in (-1, 1):
            j = i + step
            while 0 <= j < len(chars) and chars[j] == " ":
                j += step
            if 0 <= j < len(chars) and _is_cjk(chars[j]):
                for k in range(min(i, j) + 1, max(i, j)):
                    chars[k] = ""
    return "".join(chars)


def report(text: str, name: str) -> list[str]:
    """`name:line:col: …` for every offender."""
    out = []
    for i in offenders(text):
        line = text.count("\n", 0, i) + 1
        col = i - (text.rfind("\n", 0, i) + 1) + 1
        start = text.rfind("\n", 0, i) + 1
        context = text[max(start, i - 12):i + 13].strip()
        out.append(f"{name}:{line}:{col}: 中文之间用了半角 “{text[i]}”，应为 “{ASCII_TO_FULL[text[i]]}”：{context}")
    return out


def template_files() -> list[Path]:
    return sorted((ROOT / "templates").rglob("*.html"))


# ---------------------------------------------------------------------------------------------
# The tests


def test_the_rule():
    assert fix("共 3 份,其中扫码 2 份") == "共 3 份，其中扫码 2 份"
    assert fix("县(区)综治办") == "县（区）综治办"
    assert fix("答卷(如重复提交、明显敷衍),未计入") == "答卷（如重复提交、明显敷衍），未计入"
    assert fix("第 3 名(共 12 名)") == "第 3 名（共 12 名）"
    assert fix("份{% endif %},其中") == "份{% endif %}，其中"
    assert fix("<b>注意</b>:请") == "<b>注意</b>：请"
    assert fix("原因: 排名末位") == "原因：排名末位"
    # Not between two Chinese characters: code, numbers, English, a Jinja expression's own syntax.
    for same in ("code,name,kind", "待审核({{ n }})", "f(a, b)", "字段: value", "{{ field(form.x, \"说明\") }}",
                 'title="末3名概率" href="x"', "a: 甲"):
        assert fix(same) == same, same


def test_templates_use_full_width_punctuation_between_chinese_characters():
    problems = [p for path in template_files() for p in report(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert not problems, "\n".join(problems[:40]) + f"\n共 {len(problems)} 处；修正：python tests/test_punctuation.py --fix FILE…"


def test_labels_shown_everywhere_use_full_width_punctuation():
    from models.accounts import ROLE_LABELS
    from models.interviews import CASE_STATUS_LABELS, REASON_LABELS
    from models.units import KIND_LABELS
    from models.waves import MODE_LABELS, STATUS_LABELS
    from reports.formatting import COLOR_MEANINGS, WARNING_LABELS

    for labels in (ROLE_LABELS, CASE_STATUS_LABELS, REASON_LABELS, KIND_LABELS, MODE_LABELS, STATUS_LABELS, COLOR_MEANINGS, WARNING_LABELS):
        for value in labels.values():
            assert not offenders(str(value)), value


def main(argv: list[str]) -> int:
    fixing = argv[:1] == ["--fix"]
    files = [Path(a) for a in (argv[1:] if fixing else argv)] or template_files()
    found = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        problems = report(text, str(path))
        found += len(problems)
        if fixing and problems:
            path.write_text(fix(text), encoding="utf-8")
            print(f"{path}: 改了 {len(problems)} 处")
        elif problems:
            print("\n".join(problems))
    return 0 if fixing or not found else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
