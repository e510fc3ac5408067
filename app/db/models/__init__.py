"""One module per table. Importing this package registers every table on the metadata (Alembic reads it)."""

from app.db.models._base import Base, OrgScoped
from app.db.models.ai_feedback import AIFeedback
from app.db.models.ai_interaction import AIInteraction
from app.db.models.ai_session import AISession
from app.db.models.ai_usage import AIUsageRefreshState, AIUsageRollup
from app.db.models.alert import ALERT_KINDS, Alert, AlertKind, AlertRule
from app.db.models.assessment import Assessment
from app.db.models.audit_log import AuditLogEntry
from app.db.models.authoring import CourseDraft, CourseVersion
from app.db.models.competency import Competency
from app.db.models.content_chunk import ContentChunk
from app.db.models.course import Course
from app.db.models.course_module import CourseModule
from app.db.models.credential import Credential
from app.db.models.data_export import DATA_EXPORT_STATUSES, DataExport, DataExportStatus
from app.db.models.dead_letter import DeadLetter
from app.db.models.enrollment import Enrollment
from app.db.models.experiment import EXPERIMENT_STATUSES, Experiment, ExperimentStatus
from app.db.models.grade import Grade
from app.db.models.invitation import Invitation
from app.db.models.issuer import IssuerKey, IssuerProfile
from app.db.models.item import BLOOM_LEVELS, ITEM_KINDS, Item
from app.db.models.item_competency import ItemCompetency
from app.db.models.item_prerequisite import ItemPrerequisite
from app.db.models.lti import (
    SCORE_POST_STATES,
    LtiContext,
    LtiContextMember,
    LtiPlatform,
    LtiResourceLink,
    LtiScorePost,
    LtiToolKey,
    LtiUser,
)
from app.db.models.mastery import ItemRequirement, MasteryEstimate, ProjectionCheckpoint
from app.db.models.membership import Membership
from app.db.models.org_budget import OrgBudget
from app.db.models.organization import Organization
from app.db.models.progress_event import ProgressEvent
from app.db.models.prompt_template import PromptTemplate
from app.db.models.redaction_event import REDACTION_KINDS, RedactionEvent
from app.db.models.refresh_token import RefreshToken
from app.db.models.review_card import ReviewCard
from app.db.models.review_due_count import ReviewDueCount
from app.db.models.review_item import REVIEW_REASONS, ReviewItem
from app.db.models.review_log import ReviewLog
from app.db.models.sso import SSO_PROTOCOLS, SsoConnection, SsoIdentity
from app.db.models.status_list import StatusList
from app.db.models.submission import Submission
from app.db.models.user import User
from app.db.models.webhook import DELIVERY_STATES, WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.lib.roles import ROLES

__all__ = [
    "ALERT_KINDS",
    "BLOOM_LEVELS",
    "DATA_EXPORT_STATUSES",
    "DELIVERY_STATES",
    "EXPERIMENT_STATUSES",
    "ITEM_KINDS",
    "REDACTION_KINDS",
    "REVIEW_REASONS",
    "ROLES",
    "SCORE_POST_STATES",
    "SSO_PROTOCOLS",
    "AIFeedback",
    "AIInteraction",
    "AISession",
    "AIUsageRefreshState",
    "AIUsageRollup",
    "Alert",
    "AlertKind",
    "AlertRule",
    "Assessment",
    "AuditLogEntry",
    "Base",
    "Competency",
    "ContentChunk",
    "Course",
    "CourseDraft",
    "CourseModule",
    "CourseVersion",
    "Credential",
    "DataExport",
    "DataExportStatus",
    "DeadLetter",
    "Enrollment",
    "Experiment",
    "ExperimentStatus",
    "Grade",
    "Invitation",
    "IssuerKey",
    "IssuerProfile",
    "Item",
    "ItemCompetency",
    "ItemPrerequisite",
    "ItemRequirement",
    "LtiContext",
    "LtiContextMember",
    "LtiPlatform",
    "LtiResourceLink",
    "LtiScorePost",
    "LtiToolKey",
    "LtiUser",
    "MasteryEstimate",
    "Membership",
    "OrgBudget",
    "OrgScoped",
    "Organization",
    "ProgressEvent",
    "ProjectionCheckpoint",
    "PromptTemplate",
    "RedactionEvent",
    "RefreshToken",
    "ReviewCard",
    "ReviewDueCount",
    "ReviewItem",
    "ReviewLog",
    "SsoConnection",
    "SsoIdentity",
    "StatusList",
    "Submission",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]

ORG_SCOPED_TABLES = tuple(
    sorted(t.name for t in Base.metadata.sorted_tables if "org_id" in t.columns and t.name != "organizations")
)
