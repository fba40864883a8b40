"""The public survey page: the email's one-click score links land here (PROTOCOL: CSAT links)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from helpdesk.errors import DomainError
from helpdesk.extensions import csrf
from helpdesk.tickets import csat
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.web import commit, current_actor, db_session, writes_on_get

bp = Blueprint("csat", __name__, url_prefix="/csat")


def _signed_in() -> Any:
    return current_actor() if current_user.is_authenticated else None


def _page(survey: CsatSurvey | None = None, *, status: int = 200, error: DomainError | None = None,
          saved: bool = False, token: str | None = None) -> Any:
    context: dict[str, Any] = {"survey": survey, "error": error, "saved": saved, "token": token,
                               "labels": csat.SCORE_LABELS}
    if survey is not None and error is None:
        context["form_token"] = csat.form_token(survey, current_app.secret_key)
        context["can_change"] = csat.can_change(survey)
    response = render_template("csat/page.html", **context), status
    return response[0], status, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                 "X-Robots-Tag": "noindex"}


def _picker(survey: CsatSurvey, token: str) -> Any:
    return render_template("csat/page.html", survey=survey, picker=True, token=token, error=None,
                           labels=csat.SCORE_LABELS), 200, {"Cache-Control": "no-store",
                                                            "Referrer-Policy": "no-referrer"}


@bp.get("/<token>")
@writes_on_get
def answer(token: str) -> Any:
    """GET records the score: the email's links are one click, as PROTOCOL.md promises."""
    session = db_session()
    score = request.args.get("score")
    try:
        if score is None:
            # A link whose score was lost (some mail clients cut query strings): offer the choice.
            survey = csat.survey_for_link(session, token, current_app.secret_key)
            return _picker(survey, token)
        survey = csat.answer_by_link(session, token, score, signed_in=_signed_in(),
                                     secret_key=current_app.secret_key)
        commit()
    except DomainError as exc:
        return _page(status=exc.status, error=exc)
    return _page(survey, token=token)


@bp.post("/answer")
@csrf.exempt  # the signed form token is the capability; a cross-site form cannot know it
def comment() -> Any:
    session = db_session()
    form = request.form
    try:
        survey = csat.answer_by_form(session, form.get("form_token", ""), form.get("score"),
                                     form.get("comment", ""), signed_in=_signed_in(),
                                     secret_key=current_app.secret_key)
        commit()
    except DomainError as exc:
        return _page(status=exc.status, error=exc)
    return _page(survey, saved=True)
