"""The data model, one module per subject; importing this package registers every table."""

from models.accounts import ApiToken, LoginFailure, User
from models.attachments import CaseAttachment
from models.audit import AuditEntry
from models.calls import CallAttempt, CallCase
from models.interviews import CaseRound, InterviewCase
from models.jobs import Job
from models.links import ShortLink
from models.paper import PaperSheet
from models.questionnaires import Indicator, Item, Option, Questionnaire, QuestionnaireVersion
from models.responses import Response
from models.results import AnalysisResult
from models.units import PopulationMargin, Unit
from models.waves import Wave

__all__ = [
    "AnalysisResult",
    "ApiToken",
    "AuditEntry",
    "CallAttempt",
    "CallCase",
    "CaseAttachment",
    "Indicator",
    "CaseRound",
    "InterviewCase",
    "Job",
    "LoginFailure",
    "Item",
    "Option",
    "PaperSheet",
    "PopulationMargin",
    "Questionnaire",
    "QuestionnaireVersion",
    "Response",
    "ShortLink",
    "Unit",
    "User",
    "Wave",
]
