"""The residents' pages: /s (type a short code) and /s/<token> (the questionnaire).

Views parse the request, call one function of survey.links or survey.intake, and render.
Every failure a resident can meet is a page in their language with the right status.
"""

from __future__ import annotations

from flask import Response as FlaskResponse
from flask import current_app, redirect, request, url_for
from flask_babel import get_locale, gettext, lazy_gettext
from markupsafe import Markup
from sqlalchemy import bindparam, select
from werkzeug.exceptions import HTTPException

import caches
from analysis.spec import QuestionnaireSpec
from errors import PinganError
from extensions import csrf, db, hashed_remote_address, limiter, retry_on_stale_connection
from models import Wave
from survey import bp, ratelimits
from survey.forms import ResidentForm, form_class, is_bot, sheet_checker
from survey.intake import (
    DEVICE_COOKIE,
    Outcome,
    Submission,
    device_from_cookie,
    device_has_answered,
    device_rate_key,
    new_ticket,
    read_ticket,
    submit,
)
from survey.integrity import Rules
from survey.links import Link, read_token, require_open, resolve_short_code
from survey.offices import issuer

# No session CSRF token on the residents' pages: the signed ticket, bound to the device cookie it
# was issued to, is the resident form's token (survey.intake, docs/security.md); a ticket that
# fails re-shows the questionnaire with every answer kept instead of a bare error page.
csrf.exempt(bp)


def _lang() -> str:
    """The page's language, "zh" or "en": Flask-Babel's locale, kept on the request as Flask-Babel
    keeps its own (not in `g`, which outlives a request when a test holds the app context): a
    resident's request asks several times, and Flask-Babel's look-up costs more than the page's key."""
    lang = getattr(request, "survey_lang", None)
    if lang is None:
        locale = get_locale()
        lang = request.survey_lang = locale.language if locale else "zh"
    return lang


def _lang_args() -> dict[str, str]:
    """Keep an explicit ?lang=en on the links and the form action we generate."""
    return {"lang": "en"} if _lang() == "en" else {}


# 大字: ?size=large or ?size=normal (a plain link: no JavaScript needed), remembered in a cookie.
SIZE_COOKIE = "pingan_size"
SIZES = ("large", "normal")


def _arg(name: str) -> str | None:
    """request.args.get(name), without the exception werkzeug's MultiDict.get raises and catches
    for a missing key (residents' URLs carry no query string; a page asks several times)."""
    args = request.args
    return args[name] if name in args else None


def _big() -> bool:
    size = _arg("size")
    if size not in SIZES:
        cookies = request.cookies
        size = cookies[SIZE_COOKIE] if SIZE_COOKIE in cookies else None
    return size == "large"


@bp.after_request
def _remember_size(response: FlaskResponse) -> FlaskResponse:
    size = _arg("size")
    if size in SIZES:
        response.set_cookie(
            SIZE_COOKIE, size, max_age=400 * 24 * 3600, path="/s",
            secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax",
        )
    return response


def render(template: str, **context) -> str:
    """Render a resident page with only what it uses.

    Not `render_template`: the app-wide context processors include Flask-Login's, which loads
    the signed-in office user for every page; a resident's page has no business with it.
    """

    def other_language_url() -> str:
        args = {**request.view_args} if request.view_args else {}
        return url_for(request.endpoint or "survey.enter_code", **args, lang="zh" if _lang() == "en" else "en")

    big = _big()

    def size_url() -> str:
        args = {**request.view_args} if request.view_args else {}
        return url_for(request.endpoint or "survey.enter_code", **args, **_lang_args(), size="normal" if big else "large")

    return current_app.jinja_env.get_template(template).render(
        request=request,
        lang=_lang(),
        big=big,
        other_language_url=other_language_url,
        size_url=size_url,
        office=issuer(context["link"].place.scope_name) if context.get("link") is not None else "",
        **context,
    )


@bp.before_request
def _small_bodies() -> None:
    # A questionnaire is a few kilobytes; refuse anything bigger before it is read.
    request.max_content_length = current_app.config["SURVEY_MAX_BODY"]
    request.max_form_memory_size = current_app.config["SURVEY_MAX_BODY"]


@limiter.request_filter
def _limited_by_survey_ratelimits() -> bool:
    """Flask-Limiter skips the questionnaire's requests at once: their limits are counted by
    survey.ratelimits (one round trip), and its per-request bookkeeping cost 8% of a submission's
    CPU under py-spy with no limit of its own to apply."""
    return request.endpoint == "survey.questionnaire"


@bp.get("/s")
@limiter.limit(
    lambda: current_app.config["SURVEY_CODE_RATE_LIMIT"], exempt_when=lambda: "code" not in request.args
)
def enter_code():
    """The page where a resident types the six-character code printed under a QR code."""
    code = request.args.get("code")
    if code is None:
        return render("survey/code.html")
    if not code.strip():  # 打开问卷 tapped before typing: ask for the code, no error
        return render("survey/code.html", ask=gettext("请输入海报或卡片上二维码下方的 6 位问卷号码。"))
    try:
        token = resolve_short_code(code)
    except PinganError:
        message = gettext("没有找到这个号码。请核对海报或卡片上的 6 位字母和数字后再试。")
        return render("survey/code.html", code=code[:20], error=message), 404
    return redirect(url_for("survey.questionnaire", token=token, **_lang_args()), 303)


@bp.route("/s/<token>", methods=["GET", "POST"])
def questionnaire(token: str):
    """Show the questionnaire (GET) or take in the answers (POST); see survey.intake."""
    if request.method == "POST":  # per address and per device cookie, in one round trip (survey.ratelimits)
        config = current_app.config
        ratelimits.check([
            ("post", config["SURVEY_RATE_LIMIT"], hashed_remote_address()),
            ("device", config["SURVEY_DEVICE_RATE_LIMIT"], device_rate_key()),
        ])
    return _questionnaire(token)


# Without the pool's ping, run again on a connection that a PostgreSQL restart left dead
# (extensions.retry_on_stale_connection): a GET only reads, and a POST stores once by its ticket.
@retry_on_stale_connection
def _questionnaire(token: str):
    # LinkError: a 404, 403 or 410 page. A GET may take the wave's status from a few seconds ago
    # (survey.links.wave_status). A POST reads it only when it stores nothing (`deferred`): the
    # INSERT stores only in an open wave, and every other path below asks `require_open` first.
    link = read_token(token, exact=False, deferred=request.method == "POST")
    cookies = request.cookies
    device, new_cookie = device_from_cookie(cookies[DEVICE_COOKIE] if DEVICE_COOKIE in cookies else None)
    if request.method == "GET":
        if new_cookie is None and device_has_answered(link, device):  # a new cookie has answered nothing
            return _page("survey/already.html", link, new_cookie)
        return _form_page(link, None, new_cookie)

    posted = request.form
    if is_bot(posted):
        require_open(link.wave_id)
        # The honeypot was filled: thanked like anyone else, so the bot learns nothing; nothing stored.
        current_app.logger.info("survey: honeypot filled, nothing stored (wave %s)", link.wave_id)
        return _page("survey/thanks.html", link, None)
    # The ticket is the token (survey.intake); the sheet is checked without building the form
    # (survey.forms.SheetChecker), which is built only when the page is shown again.
    sheet = sheet_checker(link.spec).check(posted)
    ticket = read_ticket(posted.get("ticket"), link.wave_id)
    if ticket is None:
        require_open(link.wave_id)
        if new_cookie is None and device_has_answered(link, device):
            return _page("survey/already.html", link, new_cookie)  # this phone has answered: say so first
        # An old page, one posted without its device cookie, or a forged one: shown again with
        # every answer kept, a fresh ticket and (if the phone had none) a device cookie.
        return _form_page(link, _posted_form(link), new_cookie, expired=True, status=400)
    outcome = submit(
        Submission(
            link=link,
            ticket=ticket,
            answers=sheet.answers if sheet.valid else None,
            device=device,
            ip=request.remote_addr,
            user_agent=request.user_agent.string,
            new_device=new_cookie is not None,
            screened_out=sheet.screened_by is not None,
        ),
        Rules.from_config(current_app.config),
    )
    if outcome is Outcome.INVALID:
        return _form_page(link, _posted_form(link), new_cookie, status=422)
    if outcome is Outcome.STORED and sheet.screened_by is not None:
        return _page("survey/screened.html", link, new_cookie)
    template = "survey/already.html" if outcome is Outcome.DEVICE_DONE else "survey/thanks.html"
    return _page(template, link, new_cookie)


def _posted_form(link: Link) -> ResidentForm:
    """The posted answers as the form that shows them again, validated: its fields hold what the
    page shows (an invalid code cleared, codes in option order) and their error messages."""
    form = form_class(link.spec)(meta={"csrf": False})  # the ticket is the token (survey.intake)
    form.validate()
    return form


def _form_page(
    link: Link, form: ResidentForm | None, new_cookie: str | None, expired: bool = False, status: int = 200
):
    """The questionnaire: blank (`form` None) or as posted, with its errors or the expired notice.

    A blank page needs no form object: its questions come from `blank_questions`. A fresh ticket
    goes with a blank or expired page; a page shown again for its errors keeps its ticket, so that
    a second tap of 提交 is the same submission.
    """
    if form is None:
        html = blank_page(link).replace(TICKET_SLOT, new_ticket(link.wave_id))
    else:
        html = render(
            "survey/form.html",
            link=link,
            form=form,
            spec=link.spec,
            questions=None,
            ticket=form.ticket.data if not expired else new_ticket(link.wave_id),
            errors=form.answer_errors() if status == 422 else [],
            expired=expired,
            action=url_for("survey.questionnaire", token=request.view_args["token"], **_lang_args()),
        )
    return _with_device_cookie(FlaskResponse(html, status), new_cookie)


# Where the ticket goes in a cached blank page: URL-safe characters only, as a ticket's are, so
# that autoescaping leaves both alone and `str.replace` puts the ticket where the template put this.
TICKET_SLOT = "PINGAN-TICKET-SLOT-6b1f0c"


def blank_page(link: Link) -> str:
    """The blank questionnaire page with TICKET_SLOT for its ticket, rendered once per place, link,
    language and type size in each process (caches.BLANK_PAGES); each GET only fills in a fresh ticket."""
    token = request.view_args["token"]
    key = (caches.app_scope(current_app), link.place, link.mode, token, _lang(), _big())

    def make() -> str:
        return render(
            "survey/form.html",
            link=link,
            form=None,
            spec=link.spec,
            questions=blank_questions(link.spec),
            ticket=TICKET_SLOT,
            errors=[],
            expired=False,
            action=url_for("survey.questionnaire", token=token, **_lang_args()),
        )

    return caches.BLANK_PAGES.get_or_make(key, make)


def blank_questions(spec: QuestionnaireSpec) -> Markup:
    """The questions of a blank form, rendered once per questionnaire and language in each process
    (caches.BLANK_QUESTIONS, keyed by the spec's content): the same for every resident, and the
    largest part of the page's rendering time."""
    def make() -> Markup:
        blank = form_class(spec)(formdata=None, meta={"csrf": False})
        return Markup(render("survey/_questions.html", spec=spec, form=blank))

    return caches.BLANK_QUESTIONS.get_or_make((spec, _lang()), make)


def _page(template: str, link: Link, new_cookie: str | None):
    """The thank-you page, the closing page of a screened-out sheet or the 您已提交 page (all 200:
    the resident did nothing wrong); the same for everyone who answers through this link, so rendered
    once per place, link, language, type size and board link in each process (caches.RESIDENT_PAGES)."""
    board_url = _board_url(link)
    key = (caches.app_scope(current_app), template, link.place, request.view_args["token"], _lang(), _big(), board_url)
    html = caches.RESIDENT_PAGES.get_or_make(key, lambda: render(template, link=link, board_url=board_url))
    return _with_device_cookie(FlaskResponse(html), new_cookie)


def _board_url(link: Link) -> str:
    """The next step after answering: the newest published 公示 board of this wave's scope (the
    wave itself is still collecting), else the public home page listing every published board.
    Read once a minute per scope and process (caches.BOARD_LINKS), the URL with it (the same for the
    same board and script root): every thank-you page shows it."""
    def newest() -> str:
        slug = db.session.scalar(_NEWEST_BOARD, {"scope": link.place.scope_unit_id})
        return url_for("board.board", slug=slug) if slug else url_for("board.home")

    key = (caches.app_scope(current_app), link.place.scope_unit_id, request.script_root)
    return caches.BOARD_LINKS.get_or_make(key, newest)


_NEWEST_BOARD = (
    select(Wave.slug)
    .where(Wave.scope_unit_id == bindparam("scope"), Wave.status == "published")
    .order_by(Wave.period_start.desc())
    .limit(1)
)


def _with_device_cookie(response: FlaskResponse, value: str | None) -> FlaskResponse:
    """Give a phone without a device cookie its new one, so that its answer is recognised later."""
    if value is not None:
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=400 * 24 * 3600,  # the longest a browser keeps a cookie
            path="/s",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
    return response


# -- errors: a page in the resident's language, never a stack trace --------------------------

_ = lazy_gettext  # marks the messages for extraction; they are translated when the page is rendered
_MESSAGES = {
    "link_invalid": (_("链接无效"), _("请检查链接是否完整，或重新扫描二维码。也可以输入海报或卡片上的 6 位号码。")),
    "wave_not_started": (_("尚未开始"), _("本次调查尚未开始，请在调查开始后再扫码填写。")),
    "wave_ended": (_("已结束"), _("本次调查已结束，感谢您的关注。")),
    400: (_("请求有误"), _("请重新打开问卷链接后再试。")),
    404: (_("页面不存在"), _("请检查链接是否完整，或重新扫描二维码。")),
    405: (_("不支持此操作"), _("请重新打开问卷链接。")),
    413: (_("内容过多"), _("提交的内容超过了上限。请返回上一页，删减文字后再提交。")),
    429: (_("提交过于频繁"), _("请稍等几分钟后再试。您填写的答案仍在上一页中。")),
    500: (_("出了点问题"), _("服务器暂时出错，请稍后再试。我们已记录此错误。")),
    503: (_("系统正忙"), _("请稍等片刻，再点一次“提交”。您的答案不会重复保存。")),
}


def _error_page(key: str | int, status: int):
    title, message = _MESSAGES.get(key, _MESSAGES[500])
    html = render(
        "survey/error.html", title=str(title), message=str(message), status=status, code_form=key == "link_invalid"
    )
    return html, status


def _page_key(status: int) -> int:
    """The resident page for a status without one of its own: 400's for a refusal, 500's for a fault."""
    return status if status in _MESSAGES else 400 if status < 500 else 500


@bp.errorhandler(PinganError)
def _domain_error(error: PinganError):
    # Residents read a plain page; the catalogue's code picks it (docs/architecture.md "Errors").
    return _error_page(error.code if error.code in _MESSAGES else _page_key(error.status), error.status)


def _http_error(error: HTTPException):
    status = error.code or 500
    html, status = _error_page(_page_key(status), status)
    # The exception's own headers stay: Allow on a 405 (RFC 9110), Retry-After on a 429.
    return html, status, [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]


# By status code, not only by HTTPException: the app's own handlers are registered per code,
# and Flask prefers a handler for the exact code over a blueprint's handler for the class.
bp.register_error_handler(HTTPException, _http_error)
for _status in (400, 403, 404, 405, 410, 413, 429, 500, 503):
    bp.register_error_handler(_status, _http_error)
