"""Questionnaires in the console: uploading a YAML (survey.questionnaires), the versions, and a
preview that is the residents' own page (templates/survey/form.html) rendered from the spec."""

from __future__ import annotations

from types import SimpleNamespace

from flask import abort, current_app, request, url_for
from flask_babel import get_locale
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from admin.uploads import saved
from extensions import db
from models import Questionnaire, QuestionnaireVersion, Unit, Wave
from survey.forms import form_class
from survey.questionnaires import load_questionnaire


def upload(file: FileStorage) -> tuple[QuestionnaireVersion, str]:
    """Load an uploaded questionnaire YAML: ("created" | "replaced" | "unchanged"); FileProblem
    with line and column on a bad file, Conflict when the version is in use and differs."""
    with saved((file, "questionnaire.yaml")) as (path,):
        return load_questionnaire(path)


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
        abort(404)
    return found


def waves_using(version: QuestionnaireVersion) -> list[Wave]:
    return list(db.session.scalars(select(Wave).where(Wave.questionnaire_version_id == version.id).order_by(Wave.period_start.desc())))


def preview_html(version: QuestionnaireVersion) -> str:
    """The resident's page for this version, exactly as survey.views renders it, with a sample
    place in the heading. The form posts back to the preview, which only answers GET."""
    spec = version.to_spec()
    top = db.session.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.code).limit(1))
    place = SimpleNamespace(name=top.name if top else "示例市", id=0)
    link = SimpleNamespace(
        wave=SimpleNamespace(scope=place, scope_unit_id=0),
        unit=SimpleNamespace(name="示例村(社区)", parent=None, kind="village", id=-1),
    )
    lang = get_locale().language if get_locale() else "zh"
    here = url_for("admin.questionnaire_preview", questionnaire_slug=version.slug, version=version.version)
    form = form_class(spec)()
    return current_app.jinja_env.get_template("survey/form.html").render(
        request=request,
        lang=lang,
        other_language_url=lambda: url_for(
            "admin.questionnaire_preview", questionnaire_slug=version.slug, version=version.version,
            lang="zh" if lang == "en" else "en",
        ),
        office=current_app.config["OFFICE_NAME"],
        link=link,
        form=form,
        spec=spec,
        errors=[],
        expired=False,
        action=here,
    )
