"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from litestar import Litestar, Request, Router
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

from app.config import Settings, get_settings
from app.domain.accounts.controllers import MeController, UserController
from app.domain.admin.controllers import AdminController
from app.domain.alerts.controllers import AlertController, AlertRuleController
from app.domain.audit.controllers import AuditController
from app.domain.auth.controllers import AuthController
from app.domain.authoring.controllers import AuthoringController
from app.domain.courses.controllers import CourseController
from app.domain.credentials.controllers.admin import CredentialAdminController, IssuerAdminController
from app.domain.credentials.controllers.learner import LearnerCredentialController
from app.domain.credentials.controllers.public import CredentialVerifyController, IssuerPublicController
from app.domain.credentials.controllers.share import ShareController
from app.domain.dataexport.controllers import ExportDownloadController, MemberExportController, MyExportController
from app.domain.dataprivacy.controllers import RetentionAdminController, SelfErasureController
from app.domain.deps import common_dependencies
from app.domain.experiments.controllers import ExperimentController
from app.domain.grading.controllers import (
    AssessmentController,
    DeadLetterController,
    ItemAssessmentController,
    SubmissionController,
)
from app.domain.insights.controllers import InsightsController
from app.domain.lti.admin_controllers import LtiPlatformAdminController, LtiToolPublicController
from app.domain.lti.contexts_controllers import LtiContextController  # LTI services (AGS/NRPS)
from app.domain.lti.controllers import LtiLaunchController, LtiSessionController
from app.domain.lti.deep_linking_controller import DeepLinkingController  # LTI (issue 14)
from app.domain.lti.frame_origins import FrameAncestors
from app.domain.mastery.controllers import MasteryController
from app.domain.orgadmin.controllers import InvitationController, OrgAdminController
from app.domain.progress.controllers import (
    CourseEnrollmentController,
    EnrollmentController,
    LearningController,
    ProgressController,
)
from app.domain.recommendations.controllers import RecommendationController
from app.domain.review.controllers import ReviewFeedController
from app.domain.review.queue_controllers import ReviewQueueController
from app.domain.search.controllers import SearchController
from app.domain.spaced.controllers import SpacedReviewController
from app.domain.sso.controllers import SsoAdminController, SsoAuthController, SsoSessionController
from app.domain.sso.saml_controllers import SamlAdminController, SamlSignInController
from app.domain.system.controllers import ConfigController, SystemController
from app.domain.system.webapp import FramePolicy, webapp_router
from app.domain.tutor.controllers import TutorController, TutorSocketController
from app.domain.webhooks.controllers import WebhookAdminController
from app.lib import edge, tracing
from app.lib.auth import PUBLIC, BearerAuthMiddleware
from app.lib.idempotency import IdempotencyMiddleware
from app.lib.inputs import InputGuardMiddleware, LyceumRequest
from app.lib.observability import RequestContextMiddleware, configure_logging
from app.lib.problems import exception_handlers
from app.lib.release import shipped_path
from app.lib.throttle import RateLimitMiddleware
from app.lib.tracing_http import TracingMiddleware
from app.lib.versioning import add_deprecation_headers
from app.server.components import ComponentsPlugin, components_of

FRONTEND_DIST = shipped_path("frontend/dist")
# Swagger UI 5 (it reads OpenAPI 3.1; the 3.x in the swagger-ui-bundle wheel could not) from the npm package
# swagger-ui-dist: `npm run build` copies its assets into dist/swagger-ui, so the docs work with no network.
# Before a build, the installed package itself is served.
SWAGGER_ASSETS = "/static/swagger-ui"
SWAGGER_DIRS = (FRONTEND_DIST / "swagger-ui", FRONTEND_DIST.parent / "node_modules" / "swagger-ui-dist")


def swagger_ui_dir() -> Path:
    """The first directory holding Swagger UI's bundle (the built copy, else the installed package)."""
    return next((d for d in SWAGGER_DIRS if (d / "swagger-ui-bundle.js").is_file()), SWAGGER_DIRS[0])


V1_CONTROLLERS = [
    ConfigController,
    TutorController,
    TutorSocketController,
    AdminController,
    AuthController,
    MeController,
    UserController,
    CourseController,
    CourseEnrollmentController,
    EnrollmentController,
    ProgressController,
    LearningController,
    AuditController,
    ReviewFeedController,
    ReviewQueueController,
    AssessmentController,
    ItemAssessmentController,
    SubmissionController,
    DeadLetterController,
    SearchController,
    SpacedReviewController,
    RecommendationController,
    MasteryController,
    LearnerCredentialController,
    ShareController,
    IssuerAdminController,
    CredentialAdminController,
    CredentialVerifyController,
    LtiSessionController,  # LTI launch (issue 14)
    LtiContextController,  # LTI services (AGS/NRPS)
    LtiPlatformAdminController,  # LTI (issue 14): registrations and invitations
    DeepLinkingController,  # LTI Deep Linking 2.0 (issue 14)
    SsoAuthController,  # single sign-on (issue 16): providers, OIDC login and callback
    SsoSessionController,  # single sign-on's one-time code exchange
    SsoAdminController,  # single sign-on administration (OIDC, SSO required)
    SamlSignInController,  # SAML single sign-on (issue 16)
    SamlAdminController,
    WebhookAdminController,  # webhooks (issue 16): endpoints, delivery log, replay
    AlertRuleController,  # alerts (issue 17): rules (admins)
    AlertController,  # alerts (issue 17): the list and acknowledgement (staff)
    ExperimentController,  # experiments (issue 17): tutor prompt variants and hint policies by rollout
    OrgAdminController,  # org admin (issue 17): invitations, course visibility, learners' progress
    InvitationController,  # the public invitation page (issue 17)
    AuthoringController,  # course authoring in the browser (issue 17): drafts, preview, publish
    InsightsController,  # AI observability (issue 17): usage rollup, guardrails, grading quality, ratings
    MyExportController,  # personal-data export (issue 18 item 5): your own
    MemberExportController,  # ... an admin's of one member
    ExportDownloadController,  # ... the signed download link
    RetentionAdminController,  # data rights (issue 18): transcript retention, erasure by an admin
    SelfErasureController,  # data rights (issue 18): erase my data
]


def lti_frame_policy() -> FramePolicy:
    """The web app's frame-ancestors: itself and the registered LMS platforms (LTI, issue 14)."""
    frames = FrameAncestors()

    async def policy(request: Request[Any, Any, Any]) -> str:
        return await frames.policy(components_of(request.app).db)

    return policy


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json or settings.is_production)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        traced = tracing.setup_tracing(settings, "lyceum-api") is not None  # OTLP traces, when configured
        structlog.get_logger("lyceum").info("started", environment=settings.environment, tracing=traced)
        try:
            yield
        finally:
            if traced:
                tracing.shutdown_tracing()  # flushes the last spans

    v1 = Router(path="/v1", route_handlers=V1_CONTROLLERS)
    docs_assets = create_static_files_router(
        path=SWAGGER_ASSETS,
        directories=[swagger_ui_dir()],
        opt={PUBLIC: True},
        include_in_schema=False,
        name="swagger-ui-assets",
    )
    handlers: list[object] = [
        SystemController,
        IssuerPublicController,
        LtiLaunchController,
        LtiToolPublicController,
        v1,
        docs_assets,
    ]
    if (FRONTEND_DIST / "index.html").is_file():
        handlers.append(webapp_router(FRONTEND_DIST, lti_frame_policy()))

    app = Litestar(
        route_handlers=handlers,  # type: ignore[arg-type]
        lifespan=[lifespan],
        plugins=[ComponentsPlugin(settings)],  # builds, provides and closes the process-wide components
        dependencies=common_dependencies,
        exception_handlers=exception_handlers,
        middleware=[
            DefineMiddleware(BearerAuthMiddleware, exclude=["^/schema"], exclude_from_auth_key=PUBLIC),
            InputGuardMiddleware,  # NUL in paths and query strings; JSON bodies: LyceumRequest
            IdempotencyMiddleware,
            RateLimitMiddleware,
        ],
        before_send=[add_deprecation_headers],
        request_max_body_size=settings.max_body_bytes,
        request_class=LyceumRequest,  # NUL, depth and encoding rules on every JSON body (app/lib/inputs.py)
        openapi_config=OpenAPIConfig(
            title="Lyceum API",
            version="1.0.0",
            path="/schema",
            description="AI-native learning platform. Errors are RFC 9457 problem+json.",
            render_plugins=[
                SwaggerRenderPlugin(
                    path=["/", "/swagger"],
                    js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
                    css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
                    standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
                    favicon=f"<link rel='icon' type='image/png' href='{SWAGGER_ASSETS}/favicon-32x32.png'>",
                )
            ],
            components=Components(
                security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
            security=[{"BearerToken": []}],
        ),
        debug=False,
    )
    # Outermost: every response (404s and CORS preflights included) gets an X-Request-ID, a log line and
    # a latency sample. Inside it, before routing: HEAD, and CORS when configured (app/lib/edge.py).
    app.asgi_handler = RequestContextMiddleware(edge.install(app, settings))
    if tracing.configured(settings):  # outside it, so the access log line carries the trace id
        app.asgi_handler = TracingMiddleware(app.asgi_handler)
    return app
