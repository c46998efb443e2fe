"""Questionnaires in the console: uploading a YAML (survey.questionnaires), the versions, and a
preview that is the residents' own page (templates/survey/form.html) rendered from the spec."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import yaml
from flask import current_app, request, url_for
from flask_babel import get_locale
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

import policy
from admin.uploads import saved, values_in_range
from errors import FileProblem, NotFound
from extensions import db
from models import Questionnaire, QuestionnaireVersion, Unit, User, Wave
from survey.forms import form_class
from survey.links import Place
from survey.offices import issuer
from survey.questionnaires import load_questionnaire


def upload(file: FileStorage) -> tuple[QuestionnaireVersion, str]:
    """Load an uploaded questionnaire YAML: ("created" | "replaced" | "unchanged"); FileProblem
    with line and column on a bad file, Conflict when the version is in use and differs."""
    with saved((file, "questionnaire.yaml")) as (path,):
        _check_yaml_text(path)
        try:
            with values_in_range():
                return load_questionnaire(path)
        except RecursionError:  # PyYAML composes nested collections recursively: `[[[[…]]]]`
            db.session.rollback()
            raise FileProblem(path.name, None, None, "嵌套层次过深,这不是一份问卷") from None


def _check_yaml_text(path: Path) -> None:
    """FileProblem at the first character YAML does not allow (NUL and other control characters:
    a binary file, most likely), instead of the parser's own error. Text that is not UTF-8 is
    left to the loader, which says so."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return
    bad = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise FileProblem(
            path.name, line, column, f"含有 YAML 不允许的字符 U+{ord(bad.group()):04X}:这不是文本文件,请上传 UTF-8 编码的 YAML 问卷"
        )


def all_questionnaires() -> list[Questionnaire]:
    return list(db.session.scalars(select(Questionnaire).order_by(Questionnaire.slug)))


def get_version(slug: str, version: int) -> QuestionnaireVersion:
    """The version, or 404."""
    found = db.session.scalar(
        select(QuestionnaireVersion)
        .join(Questionnaire)
        .where(Questionnaire.slug == slug, QuestionnaireVersion.version == version)
    )
    if found is None:
        raise NotFound(f"问卷 “{slug}” 第 {version} 版不存在")
    return found


def waves_using(user: User, version: QuestionnaireVersion) -> list[Wave]:
    """The waves of this version that the account can see (policy.wave_clause): never another county's."""
    return list(db.session.scalars(
        select(Wave).where(Wave.questionnaire_version_id == version.id, policy.wave_clause(user)).order_by(Wave.period_start.desc())
    ))


def preview_html(version: QuestionnaireVersion) -> str:
    """The resident's page for this version, exactly as survey.views renders it, with a sample
    place in the heading. The form posts back to the preview, which only answers GET."""
    spec = version.to_spec()
    top = db.session.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.code).limit(1))
    sample = Place(
        wave_id=0, questionnaire_version_id=version.id, scope_unit_id=0, scope_name=top.name if top else "示例市",
        unit_id=-1, unit_code="", unit_name="示例村（社区）", unit_kind="village", parent_name=None,
    )
    link = SimpleNamespace(place=sample)
    lang = get_locale().language if get_locale() else "zh"
    here = url_for("admin.questionnaire_preview", questionnaire_slug=version.slug, version=version.version)
    form = form_class(spec)()
    big = request.args.get("size") == "large"  # the 大字 switch, as a resident would tap it (not remembered here)

    def preview_url(**args) -> str:
        return url_for("admin.questionnaire_preview", questionnaire_slug=version.slug, version=version.version, **args)

    return current_app.jinja_env.get_template("survey/form.html").render(
        request=request,
        lang=lang,
        big=big,
        other_language_url=lambda: preview_url(lang="zh" if lang == "en" else "en", **({"size": "large"} if big else {})),
        size_url=lambda: preview_url(lang=lang, size="normal" if big else "large"),
        office=issuer(link.place.scope_name),
        link=link,
        form=form,
        spec=spec,
        questions=None,
        csrf_token="",  # the preview posts back to itself, which only answers GET
        ticket="",
        errors=[],
        expired=False,
        action=here,
    )
