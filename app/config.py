"""The one settings object, read from the environment once and validated at start.

Every variable Lyceum reads is declared here (see docs/configuration.md). A bad value stops the
process with a message naming the variable; secrets are wrapped so they never reach a log line.
"""

from __future__ import annotations

import base64
import math
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import msgspec

Environment = Literal["development", "test", "production"]
DEFAULT_APP_PASSWORD = "lyceum_app"  # noqa: S105 - development default; production refuses it
MAX_API_WORKERS = 64  # `lyceum up --workers`, LYCEUM_API_WORKERS: a typo (6400) must not fork 6400 APIs


class ConfigError(ValueError):
    """A configuration variable is missing or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A string that prints as ``**********`` so it cannot leak through logs or reprs."""

    value: str

    def __repr__(self) -> str:
        return "Secret('**********')" if self.value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)


_HOOK = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_RATE = re.compile(r"^(?P<burst>\d{1,9})/(?P<amount>\d{1,9}(?:\.\d{1,6})?)(?P<unit>[smh]?)$")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``burst`` tokens, refilled at ``per_second`` tokens/s."""

    burst: int
    per_second: float

    @classmethod
    def parse(cls, name: str, raw: str) -> RateLimit:
        try:
            return cls._parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r}{exc}") from exc

    @classmethod
    def _parse(cls, raw: str) -> RateLimit:
        # Format "BURST/PERIOD" e.g. "10/60s" = 10 requests, one token back every 6 s.
        match = _RATE.match(raw.strip())
        if match is None:
            raise ValueError(" is not a rate like '20/60s' (burst/period)")
        burst, amount = int(match["burst"]), float(match["amount"])
        scale = {"": 1, "s": 1, "m": 60, "h": 3600}[match["unit"]]
        if burst <= 0 or amount <= 0:
            raise ValueError(": burst and period must be positive")
        return cls(burst=burst, per_second=burst / (amount * scale))

    def __str__(self) -> str:
        return f"{self.burst}/{self.burst / self.per_second:g}s"


@dataclass(frozen=True, slots=True)
class Settings:
    environment: Environment = "development"
    data_dir: Path = Path(".lyceum")
    host: str = "127.0.0.1"
    port: int = 8000
    # API processes `lyceum up` runs on host:port (SO_REUSEPORT); 0 = one per core this process may use.
    api_workers: int = 0
    database_url: str = ""
    redis_url: str = ""
    db_app_user: str = "lyceum_app"
    db_app_password: Secret = field(default_factory=lambda: Secret(DEFAULT_APP_PASSWORD))
    db_pool_size: int = 10
    redis_key_prefix: str = "lyceum:"
    secret_key: Secret = field(default_factory=lambda: Secret(""))
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 14 * 24 * 3600
    # Several tabs (a browser restoring a session) may refresh with the same token at once: within this
    # many seconds of its rotation, the immediately previous refresh token is answered with the same new
    # pair instead of being treated as reuse. 0 turns the grace off (docs/security.md).
    refresh_reuse_grace_seconds: float = 5.0
    # How long a user's revocation state is cached in Redis; a change Redis missed (made in the database
    # directly, or while Redis was unreachable) takes effect within this window (docs/security.md).
    auth_cache_seconds: int = 60
    # The web app's refresh-token cookie is `Secure`; turn off only to serve plain http on an address other
    # than localhost / 127.0.0.1 in development (browsers treat those two as secure already).
    refresh_cookie_secure: bool = True
    # Security notices (password changed or reset): "module:function" called with each notice, e.g. to
    # send an email; empty: a log line only (app/lib/notify.py).
    security_notify_hook: str = ""
    anthropic_api_key: Secret = field(default_factory=lambda: Secret(""))
    anthropic_base_url: str = ""
    # Demo mode: the sign-in page mentions the demo accounts (`lyceum up` turns it on with its demo seed;
    # off elsewhere, so a real deployment never advertises a demo password). Public via GET /v1/config.
    demo_mode: bool = False
    log_level: str = "INFO"
    log_json: bool = False
    max_body_bytes: int = 1_048_576
    # The largest course YAML the browser editor may send (issue 17); refused with a 413 before parsing.
    # The biggest shipped course is ~60 KB, so 512 KB leaves ample room.
    authoring_max_yaml_bytes: int = 524_288
    page_max_limit: int = 100
    cors_origins: tuple[str, ...] = ()
    # Cookies on cross-origin requests (e.g. a refresh cookie for a web app on another origin); only
    # with an explicit origin list, never with "*" (app/lib/edge.py, docs/security.md).
    cors_allow_credentials: bool = False
    content_dir: Path = Path("content")
    course_cache_seconds: int = 60
    idempotency_ttl_seconds: int = 24 * 3600
    rate_limit_enabled: bool = True
    rate_limit_login_user: RateLimit = RateLimit(5, 5 / 60)
    rate_limit_login_org: RateLimit = RateLimit(100, 100 / 60)
    rate_limit_login_global: RateLimit = RateLimit(500, 500 / 60)
    rate_limit_api_user: RateLimit = RateLimit(120, 2.0)
    rate_limit_api_org: RateLimit = RateLimit(2000, 40.0)
    rate_limit_api_global: RateLimit = RateLimit(20000, 400.0)
    rate_limit_tutor_user: RateLimit = RateLimit(20, 20 / 60)
    # AI tutor
    tutor_model: str = "claude-sonnet-4-5"
    # Pause between the offline tutor's chunks, so its replies visibly stream like a model's (`lyceum up`
    # sets 25 ms unless given; 0 elsewhere, e.g. in tests and benchmarks).
    tutor_offline_chunk_delay_ms: int = 0
    tutor_fallback_model: str = "claude-haiku-4-5"
    tutor_max_output_tokens: int = 1024
    tutor_connect_timeout_seconds: float = 5.0
    tutor_read_timeout_seconds: float = 60.0
    tutor_max_retries: int = 3
    tutor_history_token_budget: int = 6000  # older turns beyond this are summarised/trimmed
    tutor_max_message_chars: int = 4000
    # Grounding (docs/adaptive.md "Grounded tutor"): each turn retrieves this many passages of the course
    # (0: off) while its set-up runs; the whole retrieval waits at most the timeout, Chroma at most half of it.
    tutor_sources: int = 3
    tutor_retrieval_timeout_seconds: float = 0.15
    # How long a process may reuse a tutor session's loaded material and limits (app/domain/tutor/chat_cache.py);
    # admin changes to budgets and prompts invalidate at once, this bounds a content reload. 0 turns it off.
    tutor_context_cache_seconds: float = 300.0
    # Prices per million tokens, "model=input/output" pairs separated by commas.
    tutor_model_prices: str = "claude-sonnet-4-5=3/15,claude-haiku-4-5=1/5,offline=0/0"
    budget_org_monthly_tokens: int = 5_000_000
    budget_course_monthly_tokens: int = 1_000_000
    budget_user_daily_tokens: int = 50_000
    # A grounded turn sends ~1,000 more input tokens (the retrieved passages): 40k keeps a conversation at
    # ten or more turns before the allowance runs low (docs/adaptive.md, Grounded tutor).
    budget_session_tokens: int = 40_000
    object_store_dir: Path = Path("")  # default: <data dir>/objects
    ws_allowed_origins: tuple[str, ...] = ()  # empty: same host only
    ws_send_queue_size: int = 256
    ws_ping_interval_seconds: float = 20.0
    # How long an API process keeps an idle HTTP keep-alive connection open. Longer than the idle timeout of
    # whatever pools connections in front of it (load balancers: 60 s; clients: a few seconds), so the server
    # is never the side that closes a connection a client is just reusing: uvicorn's default of 5 s raced
    # clients pausing about that long, which then read a reset instead of an answer (docs/load-testing.md).
    http_keepalive_seconds: int = 75
    # permessage-deflate on WebSockets; off by default: frames are small JSON, and compressing each frame
    # per connection cost the live feed ~7 ms at p99 with 500 subscribers (docs/performance.md).
    ws_compression: bool = False
    # Live review feed / event bus
    feed_replay_size: int = 500  # events kept per org (Redis stream) and replayed on connect at most
    feed_queue_size: int = 256  # events buffered per feed subscriber before it is dropped as too slow
    feed_ping_seconds: float = 15.0  # keep-alive frame on an idle feed socket or stream
    # Grading and human review
    grading_model: str = ""  # model for AI grading; empty: LYCEUM_TUTOR_MODEL
    grading_retries: int = 3  # attempts of a grading job before it goes to the dead-letter list
    grading_timeout_seconds: int = 120  # one grading job, end to end
    grading_heartbeat_seconds: int = 15  # a job silent this long (its worker died) is retried by the sweep
    # A submission `queued` this long, or `grading` with no heartbeat for this long, is re-enqueued by the
    # stalled-submission sweep (its job was lost, or its run abandoned). At least the heartbeat; keep it
    # above SAQ's 30 s retry backoff so a job waiting to retry is not raced by a second queue's sweep.
    grading_stale_seconds: int = 60
    review_sample_rate: float = 0.05  # share of confident AI grades still sent to human review (0-1)
    review_lease_seconds: int = 900  # how long a claim on a review item lasts
    review_sla_hours: float = 48.0  # time to decide an escalated submission
    submission_max_bytes: int = 100_000  # largest answer (text or code) accepted
    rate_limit_submit_user: RateLimit = RateLimit(20, 20 / 60)  # submissions per learner
    # Code sandbox (docs/decisions/0007-code-sandbox.md)
    sandbox_bwrap: str = "bwrap"  # bubblewrap: a command on PATH or a path
    sandbox_uid: int = 65534  # the unprivileged uid and gid learner code runs as (when the worker is root)
    sandbox_gid: int = 65534
    # Development only: when bubblewrap is missing, run learner code WITHOUT isolation (refused in production).
    sandbox_allow_unsafe: bool = False
    # Search (docs/adaptive.md): the vector index is Chroma, embedded under <data dir>/chroma unless
    # CHROMA_URL names a Chroma server. A Chroma call slower than the timeout (or failing) degrades search
    # to full-text only; the candidates are what each of vector and text search contributes to the fusion.
    chroma_url: str = ""
    search_vector_timeout_seconds: float = 2.0
    search_candidates: int = 50
    # Spaced review (docs/adaptive.md): when the worker's daily precompute_review_due job runs (cron, UTC).
    spaced_review_cron: str = "5 0 * * *"
    # Credentials (docs/credentials.md). The address outsiders reach this service at: credential ids, the
    # issuer's did:web and status-list URLs are built from it (default http://<host>:<port>).
    public_url: str = ""
    # Key-encryption key for the issuers' Ed25519 private keys at rest: base64 of 32 bytes. Empty: derived
    # from LYCEUM_SECRET_KEY with HKDF (so a development data dir keeps working); set it in production.
    credentials_kek: Secret = field(default_factory=lambda: Secret(""))
    credentials_status_list_size: int = 131_072  # entries per revocation list (the spec's minimum)
    credentials_retries: int = 5  # attempts of an issue_credential job before it goes to the dead-letter list
    # POST /v1/credentials/verify is public: per client address and across the deployment (fails open).
    rate_limit_verify_ip: RateLimit = RateLimit(60, 1.0)
    rate_limit_verify_global: RateLimit = RateLimit(5000, 1000.0)
    # LTI 1.3 (docs/lti.md). Platform URLs (JWKS, token, registration) on loopback, private or link-local
    # addresses are refused (SSRF) unless this is set: development and the test suite's platform only.
    lti_allow_private: bool = False
    lti_state_ttl_seconds: int = 600  # OIDC login state and nonce: single use, this long at most
    lti_launch_code_ttl_seconds: int = 120  # the one-time code the web app exchanges for a session
    lti_clock_leeway_seconds: int = 60  # exp / iat tolerance on platform id_tokens
    lti_jwks_cache_seconds: int = 300  # platform key sets; an unknown kid refetches at once
    lti_http_timeout_seconds: float = 10.0  # every call to a platform (keys, tokens, AGS, NRPS, registration)
    lti_retries: int = 5  # attempts of an AGS score post or roster sync before it goes to the dead letters
    lti_roster_sync_cron: str = "30 2 * * *"  # the nightly NRPS sync of every linked context (UTC)
    lti_key_grace_days: int = 7  # a retired tool key stays in /lti/jwks.json this long
    # Single sign-on (docs/sso.md). OIDC issuers must be https on public addresses; these two open that up for
    # development and the test suite's provider on 127.0.0.1 only (http issuers; loopback/private addresses).
    sso_allow_http_issuers: bool = False
    sso_allow_private_issuers: bool = False
    sso_state_ttl_seconds: int = 600  # an OIDC login's state (PKCE verifier, nonce): single use, this long at most
    sso_code_ttl_seconds: int = 120  # the one-time code the web app exchanges for a session
    sso_clock_leeway_seconds: int = 60  # exp / iat tolerance on ID tokens
    sso_metadata_cache_seconds: int = 300  # discovery documents and key sets; an unknown kid refetches at once
    sso_http_timeout_seconds: float = 10.0  # every call to an identity provider
    # Webhooks (docs/webhooks.md). Endpoint URLs on loopback, private or link-local addresses are refused (SSRF)
    # at registration and again at each delivery unless this is set: development and the test receiver only.
    webhooks_allow_private: bool = False
    webhooks_timeout_seconds: float = 10.0  # one delivery: connect + send + the receiver's answer
    # Consecutive failed deliveries to one endpoint that open its circuit breaker, and how long it stays
    # open before one delivery probes it (half-open).
    webhooks_breaker_threshold: int = 5
    webhooks_breaker_cooldown_seconds: int = 300
    # How long relayed events and their delivery log are kept (days; replay works within it), and when the
    # worker prunes older ones (cron, UTC). An event with a delivery still pending is never pruned.
    webhooks_retention_days: int = 30
    webhooks_prune_cron: str = "17 4 * * *"
    # When the worker purges AI transcript text past each org's transcript_retention_days (cron, UTC; orgs
    # without a retention keep theirs). app/domain/dataprivacy/retention.py.
    transcript_purge_cron: str = "41 3 * * *"
    # The org whose admins operate the whole deployment (its slug; empty: nobody): they alone see every org's
    # AI usage on the observability dashboard (docs/observability.md). Recorded by `lyceum migrate`.
    platform_org: str = ""
    # AI observability (docs/observability.md): how often the worker refreshes the usage rollup (cron, UTC),
    # and how far before its watermark each refresh looks again, for rows that committed late.
    ai_usage_rollup_cron: str = "* * * * *"
    ai_usage_refresh_margin_seconds: int = 600
    # The worker's own Prometheus endpoint (docs/slo.md): `lyceum worker` serves /metrics on this port of
    # LYCEUM_HOST: grading's SLIs are observed where grading runs, a process apart from the API's. 0: off.
    worker_metrics_port: int = 0
    # Personal-data exports (docs/data-handling.md, "Data subject rights"): new exports one person may have
    # started in one org per rolling 24 hours, and how long a finished export's download link (and zip) lives.
    export_max_per_day: int = 3
    export_link_ttl_seconds: int = 86_400
    # OpenTelemetry traces (docs/observability.md): the OTLP/HTTP collector's base URL (spans go to
    # <endpoint>/v1/traces; empty: tracing off, the default), the service name (empty: lyceum-api or
    # lyceum-worker) and the share of new traces kept (a trace continued from a caller follows its decision).
    otel_exporter_otlp_endpoint: str = ""
    otel_service_name: str = ""
    otel_sample_ratio: float = 1.0

    @property
    def base_url(self) -> str:
        """``public_url`` without a trailing slash, or this process's own address."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def objects_path(self) -> Path:
        return self.object_store_dir if str(self.object_store_dir) not in ("", ".") else self.data_dir / "objects"

    def model_price(self, model: str) -> tuple[float, float]:
        """USD per million (input, output) tokens for ``model``; unknown models cost as the default model."""
        prices = parse_prices(self.tutor_model_prices)
        return prices.get(model) or prices.get(self.tutor_model) or (0.0, 0.0)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def redacted(self) -> dict[str, str]:
        """Settings as strings, secrets masked: safe to log at start."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self)}


def parse_prices(raw: str) -> dict[str, tuple[float, float]]:
    prices: dict[str, tuple[float, float]] = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        model, _, pair = entry.partition("=")
        input_price, _, output_price = pair.partition("/")
        try:
            prices[model.strip()] = (float(input_price), float(output_price))
        except ValueError as exc:
            raise ConfigError(f"LYCEUM_TUTOR_MODEL_PRICES entry {entry!r} is not 'model=input/output'") from exc
    return prices


# Variables outside the LYCEUM_ prefix that other tools already standardise.
_UNPREFIXED = {
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "anthropic_api_key": "ANTHROPIC_API_KEY",
    "anthropic_base_url": "ANTHROPIC_BASE_URL",
    "chroma_url": "CHROMA_URL",
    "otel_exporter_otlp_endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",  # OpenTelemetry's standard variables
    "otel_service_name": "OTEL_SERVICE_NAME",
}


def env_name(field_name: str) -> str:
    return _UNPREFIXED.get(field_name, f"LYCEUM_{field_name.upper()}")


_TRUE_WORDS = {"1", "true", "yes", "on"}
_FALSE_WORDS = {"0", "false", "no", "off", ""}


def _prepare(name: str, annotation: Any, raw: str) -> Any:
    """The environment string in the shape msgspec converts from (strings are converted with strict=False)."""
    if annotation is bool:
        lowered = raw.strip().lower()
        return True if lowered in _TRUE_WORDS else False if lowered in _FALSE_WORDS else raw
    if annotation in (int, float):
        return raw.strip()
    if get_origin(annotation) is tuple:
        return [part.strip() for part in raw.split(",") if part.strip()]
    if annotation is Secret:
        return {"value": raw}
    if annotation is RateLimit:
        limit = RateLimit.parse(env_name(name), raw)
        return {"burst": limit.burst, "per_second": limit.per_second}
    return raw


def _dec_hook(annotation: type, value: Any) -> Any:
    if annotation is Path:
        return Path(value)
    raise NotImplementedError


_AT = re.compile(r"^(?P<reason>.*) - at `\$\.(?P<field>\w+)`$", re.DOTALL)
_REASONS = {
    "Expected `int`, got `str`": " is not an integer",
    "Expected `float`, got `str`": " is not a number",
    "Expected `bool`, got `str`": " is not a boolean (use true/false)",
}


def _from_environment(env: Mapping[str, str]) -> Settings:
    """Settings from the variables present in ``env`` (msgspec converts the strings, strict=False)."""
    hints = get_type_hints(Settings)
    raw = {f.name: env[env_name(f.name)] for f in fields(Settings) if env_name(f.name) in env}
    try:
        settings = msgspec.convert(
            {name: _prepare(name, hints[name], value) for name, value in raw.items()},
            Settings,
            strict=False,
            dec_hook=_dec_hook,
        )
    except msgspec.ValidationError as exc:
        match = _AT.match(str(exc))
        if match is None or match["field"] not in raw:
            raise ConfigError(f"invalid settings: {exc}") from exc
        name, reason = match["field"], match["reason"]
        if reason.startswith("Invalid enum value"):
            explained = f" must be one of {', '.join(get_args(hints[name]))}"
        else:
            explained = _REASONS.get(reason, f": {reason}")
        raise ConfigError(f"{env_name(name)}={raw[name]!r}{explained}") from exc
    for name in raw:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not math.isfinite(value):
            raise ConfigError(f"{env_name(name)}={raw[name]!r} must be a finite number")
        if value < 0:
            raise ConfigError(f"{env_name(name)}={raw[name]!r} must not be negative")
    return settings


def _check_url(name: str, value: str, schemes: tuple[str, ...]) -> None:
    if value and not value.startswith(schemes):
        raise ConfigError(f"{name} must start with one of {', '.join(schemes)} (got scheme {value.split(':')[0]!r})")


def load_settings(environ: Mapping[str, str] | None = None, /, **overrides: Any) -> Settings:
    """Build Settings from ``environ`` (default: the process environment); raise ConfigError on bad input."""
    settings = _from_environment(os.environ if environ is None else environ)
    if overrides:
        settings = _replace(settings, **overrides)
    _check_url("DATABASE_URL", settings.database_url, ("postgresql://", "postgresql+asyncpg://", "postgres://"))
    _check_url("REDIS_URL", settings.redis_url, ("redis://", "rediss://", "unix://"))
    _check_url("CHROMA_URL", settings.chroma_url, ("http://", "https://"))
    _check_url("OTEL_EXPORTER_OTLP_ENDPOINT", settings.otel_exporter_otlp_endpoint.strip(), ("http://", "https://"))
    if not 0 <= settings.otel_sample_ratio <= 1:
        raise ConfigError(f"LYCEUM_OTEL_SAMPLE_RATIO={settings.otel_sample_ratio} must be between 0 and 1")
    if not 1 <= settings.search_candidates <= 1000:
        raise ConfigError("LYCEUM_SEARCH_CANDIDATES must be between 1 and 1000")
    if not 1 <= settings.port <= 65535:
        raise ConfigError(f"LYCEUM_PORT={settings.port} is not a TCP port")
    if not 0 <= settings.worker_metrics_port <= 65535:
        raise ConfigError(f"LYCEUM_WORKER_METRICS_PORT={settings.worker_metrics_port} is not a TCP port (or 0: off)")
    if settings.api_workers > MAX_API_WORKERS:
        raise ConfigError(f"LYCEUM_API_WORKERS must be between 0 (one per core) and {MAX_API_WORKERS}")
    parse_prices(settings.tutor_model_prices)
    if not 0 <= settings.tutor_sources <= 10:
        raise ConfigError("LYCEUM_TUTOR_SOURCES must be between 0 and 10")
    if settings.tutor_context_cache_seconds < 0:
        raise ConfigError("LYCEUM_TUTOR_CONTEXT_CACHE_SECONDS must not be negative")
    if settings.tutor_retrieval_timeout_seconds <= 0:
        raise ConfigError("LYCEUM_TUTOR_RETRIEVAL_TIMEOUT_SECONDS must be positive")
    if settings.webhooks_retention_days < 1:
        raise ConfigError("LYCEUM_WEBHOOKS_RETENTION_DAYS must be at least 1 (the delivery log and replay need it)")
    if settings.page_max_limit < 1:
        raise ConfigError("LYCEUM_PAGE_MAX_LIMIT must be at least 1")
    if settings.review_sample_rate > 1:
        raise ConfigError(f"LYCEUM_REVIEW_SAMPLE_RATE={settings.review_sample_rate} must be between 0 and 1")
    if settings.grading_stale_seconds < max(1, settings.grading_heartbeat_seconds):
        raise ConfigError(
            f"LYCEUM_GRADING_STALE_SECONDS={settings.grading_stale_seconds} must be at least "
            f"LYCEUM_GRADING_HEARTBEAT_SECONDS ({settings.grading_heartbeat_seconds}): a live job beats that often"
        )
    if settings.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"LYCEUM_LOG_LEVEL={settings.log_level!r} must be DEBUG, INFO, WARNING or ERROR")
    if settings.cors_allow_credentials and (not settings.cors_origins or "*" in settings.cors_origins):
        raise ConfigError(
            "LYCEUM_CORS_ALLOW_CREDENTIALS=true needs LYCEUM_CORS_ORIGINS to list origins explicitly (not '*')"
        )
    if settings.security_notify_hook and not _HOOK.match(settings.security_notify_hook):
        raise ConfigError(
            f"LYCEUM_SECURITY_NOTIFY_HOOK={settings.security_notify_hook!r} must look like 'package.module:function'"
        )
    if settings.refresh_reuse_grace_seconds > 60:
        raise ConfigError("LYCEUM_REFRESH_REUSE_GRACE_SECONDS must be at most 60 (it weakens reuse detection)")
    if settings.auth_cache_seconds < 1:
        raise ConfigError("LYCEUM_AUTH_CACHE_SECONDS must be at least 1")
    if settings.is_production and not settings.refresh_cookie_secure:
        raise ConfigError("LYCEUM_REFRESH_COOKIE_SECURE cannot be turned off in production")
    settings = _with_secret_key(settings)
    if settings.is_production and settings.sandbox_allow_unsafe:
        raise ConfigError("LYCEUM_SANDBOX_ALLOW_UNSAFE runs learner code without isolation: refused in production")
    if settings.sandbox_uid == 0 or settings.sandbox_gid == 0:
        raise ConfigError("LYCEUM_SANDBOX_UID and LYCEUM_SANDBOX_GID must not be 0 (root)")
    if settings.credentials_status_list_size < 131_072 or settings.credentials_status_list_size % 8:
        raise ConfigError("LYCEUM_CREDENTIALS_STATUS_LIST_SIZE must be a multiple of 8 and at least 131072")
    if settings.public_url and not settings.public_url.startswith(("http://", "https://")):
        raise ConfigError(f"LYCEUM_PUBLIC_URL={settings.public_url!r} must start with http:// or https://")
    if settings.credentials_kek:
        try:
            kek = base64.b64decode(settings.credentials_kek.value, validate=True)
        except ValueError:
            kek = b""
        if len(kek) != 32:
            raise ConfigError("LYCEUM_CREDENTIALS_KEK must be base64 of exactly 32 bytes")
    if settings.is_production and settings.db_app_password.value == DEFAULT_APP_PASSWORD:
        raise ConfigError("LYCEUM_DB_APP_PASSWORD must be set (not the public default) in production")
    if settings.export_max_per_day < 1:
        raise ConfigError("LYCEUM_EXPORT_MAX_PER_DAY must be at least 1 (a person must be able to get their data)")
    if settings.export_link_ttl_seconds < 60:
        raise ConfigError("LYCEUM_EXPORT_LINK_TTL_SECONDS must be at least 60")
    return settings


def _with_secret_key(settings: Settings) -> Settings:
    """Production needs an explicit key; development keeps a generated one in the data dir."""
    if settings.secret_key:
        if len(settings.secret_key.value) < 32:
            raise ConfigError("LYCEUM_SECRET_KEY must be at least 32 characters")
        return settings
    if settings.is_production:
        raise ConfigError("LYCEUM_SECRET_KEY is required when LYCEUM_ENVIRONMENT=production")
    key_file = settings.data_dir / "secret_key"
    if key_file.exists():
        key = key_file.read_text().strip()
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
    return _replace(settings, secret_key=Secret(key))


def _replace(settings: Settings, **changes: Any) -> Settings:
    values = {f.name: getattr(settings, f.name) for f in fields(settings)}
    values.update(changes)
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
