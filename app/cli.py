"""``lyceum``: run the platform (up), migrate, seed, worker, and validate course content."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.config import ConfigError, Settings, load_settings
from app.server.embedded import EmbeddedStack, child_env
from app.server.supervisor import ChildProcess, LoggedChildProcess, Supervisor

if TYPE_CHECKING:
    from app.demo_history import DemoHistoryReport
    from app.seed import SeedReport


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        sys.exit(f"lyceum: configuration error: {exc}")


@contextlib.contextmanager
def _stack(settings: Settings, persist: bool = True) -> Iterator[tuple[Settings, EmbeddedStack]]:
    """Settings whose DATABASE_URL/REDIS_URL point at running servers, embedding what is missing, and the
    stack of embedded servers (stopped on exit)."""
    stack = EmbeddedStack(settings.data_dir, persist=persist)
    try:
        wanted = (("PostgreSQL", settings.database_url), ("Redis", settings.redis_url))
        missing = [name for name, url in wanted if not url]
        if missing:
            print(f"lyceum: starting embedded {' and '.join(missing)} in {settings.data_dir}", flush=True)
        database_url, redis_url = stack.start(settings.database_url, settings.redis_url)
        yield replace(settings, database_url=database_url, redis_url=redis_url), stack
    finally:
        stack.stop()


@contextlib.contextmanager
def _services(settings: Settings, persist: bool = True) -> Iterator[Settings]:
    """Yield settings whose DATABASE_URL/REDIS_URL point at running servers, embedding what is missing."""
    with _stack(settings, persist) as (live, _):
        yield live


def cmd_migrate(args: argparse.Namespace) -> None:
    from app.db.bootstrap import migrate

    with _services(_settings(args)) as settings:
        asyncio.run(migrate(settings))
        print("lyceum: database is at the latest migration")


def cmd_seed(args: argparse.Namespace) -> None:
    from app.db.bootstrap import migrate
    from app.demo_history import seed_demo_ai_history
    from app.seed import seed, seed_demo_activity

    with _services(_settings(args)) as settings:
        asyncio.run(migrate(settings))
        report = asyncio.run(seed(settings))
        asyncio.run(seed_demo_activity(settings))
        history = asyncio.run(seed_demo_ai_history(settings))
        print(f"lyceum: demo data: {report.summary()}")
        print(f"lyceum: {demo_history_line(history)}")


def cmd_worker(args: argparse.Namespace) -> None:
    from jobs.worker import run_worker

    settings = _settings(args)
    if not settings.redis_url or not settings.database_url:
        sys.exit("lyceum worker: set DATABASE_URL and REDIS_URL (or use `lyceum up`, which starts a worker)")
    if settings.log_level.upper() != "DEBUG":
        # SAQ logs every cron enqueue at INFO; the console is for Lyceum's own lines.
        logging.getLogger("saq").setLevel(logging.WARNING)
    run_worker(settings)


def cmd_index_rebuild(args: argparse.Namespace) -> None:
    """Rebuild the search index from PostgreSQL: each published course is chunked again from its rows
    (``content_chunks`` brought in step), then each org's Chroma collection is dropped and refilled."""
    # The Chroma client's HTTP library logs every request at INFO; the command prints its own summary.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with _services(_settings(args)) as settings:
        try:
            counts = asyncio.run(_rebuild_index(settings, args.org))
        except LookupError as exc:
            sys.exit(f"lyceum index rebuild: {exc}")
    for slug, chunks in counts.items():
        print(f"lyceum: org {slug}: {chunks} chunks indexed")


async def _rebuild_index(settings: Settings, org_slug: str | None) -> dict[str, int]:
    from sqlalchemy import select

    from app.db.engine import Database, create_engine, owner_url
    from app.db.models import Organization
    from app.domain.search.indexer import ContentIndexer
    from app.domain.search.vectors import VectorIndex

    owner = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with owner.connect() as conn:
            query = select(Organization.id, Organization.slug).order_by(Organization.slug)
            if org_slug:
                query = query.where(Organization.slug == org_slug)
            orgs = (await conn.execute(query)).all()
    finally:
        await owner.dispose()
    if not orgs:
        raise LookupError(f"no organisation {org_slug!r}" if org_slug else "no organisations")
    db, vectors = Database.from_settings(settings), VectorIndex(settings)
    indexer = ContentIndexer(db, vectors)
    counts: dict[str, int] = {}
    try:
        for org_id, slug in orgs:
            for course_id in await indexer.courses_of_org(org_id):
                await indexer.index_course(org_id, course_id)
            counts[slug] = await indexer.rebuild_org(org_id)
    finally:
        vectors.close()
        await db.dispose()
    return counts


def cmd_projections_rebuild(args: argparse.Namespace) -> None:
    """Recompute every projection of the progress ledger (progress, mastery) from ``progress_events``."""
    with _services(_settings(args)) as settings:
        try:
            reports = asyncio.run(_rebuild_projections(settings, args.org))
        except LookupError as exc:
            sys.exit(f"lyceum projections rebuild: {exc}")
    for slug, report in reports.items():
        print(
            f"lyceum: org {slug}: {report.events} events ({report.folded} read), {report.streams} streams folded, "
            f"{report.estimates} mastery estimates, {report.enrollments_repaired} enrollments repaired "
            f"({report.events_per_second:,.0f} events/s)"
        )


async def _org_ids(settings: Settings, org_slug: str | None) -> list[tuple[Any, str]]:
    """(id, slug) of the org named (or of every org), read as the table owner (orgs are not org-scoped)."""
    from sqlalchemy import select

    from app.db.engine import create_engine, owner_url
    from app.db.models import Organization

    owner = create_engine(owner_url(settings.database_url), pool_size=1)
    try:
        async with owner.connect() as conn:
            query = select(Organization.id, Organization.slug).order_by(Organization.slug)
            if org_slug:
                query = query.where(Organization.slug == org_slug)
            orgs = [(row.id, row.slug) for row in (await conn.execute(query)).all()]
    finally:
        await owner.dispose()
    if not orgs:
        raise LookupError(f"no organisation {org_slug!r}" if org_slug else "no organisations")
    return orgs


async def _rebuild_projections(settings: Settings, org_slug: str | None) -> dict[str, Any]:
    from app.db.engine import Database
    from app.domain.progress.projections import rebuild_projections

    orgs = await _org_ids(settings, org_slug)
    db = Database.from_settings(settings)
    try:
        return {slug: await rebuild_projections(db.for_tenant(org_id)) for org_id, slug in orgs}
    finally:
        await db.dispose()


def cmd_archive_org(args: argparse.Namespace) -> None:
    """Archive an org's append-only rows to a gzipped JSON Lines file, then delete the org (as the owner)."""
    from app.domain.dataprivacy.archival import archive_org

    out = Path(args.out)
    if not out.name.endswith(".jsonl.gz"):
        sys.exit("lyceum archive org: --out must name a .jsonl.gz file")
    with _services(_settings(args)) as settings:
        try:
            report = asyncio.run(archive_org(settings, args.slug, out))
        except LookupError as exc:
            sys.exit(f"lyceum archive org: {exc}")
    rows = ", ".join(f"{count} {table}" for table, count in report.rows.items())
    print(
        f"lyceum: org {report.slug} archived to {out} ({rows}) and deleted; "
        f"{report.users_pseudonymised} users of no other org pseudonymised, {report.files_deleted} files deleted"
    )


def cmd_erase_user(args: argparse.Namespace) -> None:
    """Erase a person in every org they belong to, on their behalf (docs/runbooks/erasure-and-archival.md)."""
    import msgspec

    from app.domain.dataprivacy.erasure import ErasureRefused
    from app.domain.dataprivacy.operator import erase_person

    if args.confirm != args.email:
        sys.exit("lyceum erase user: repeat the email after --confirm to erase this person (it cannot be undone)")
    with _services(_settings(args)) as settings:
        try:
            summary = asyncio.run(erase_person(settings, args.email))
        except LookupError as exc:
            sys.exit(f"lyceum erase user: {exc}")
        except ErasureRefused as exc:
            sys.exit(f"lyceum erase user: refused, nothing was changed: {exc.detail}")
    erased = {name: value for name, value in msgspec.structs.asdict(summary).items() if name not in ("user_id", "orgs")}
    counts = ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in erased.items() if value)
    where = f"{summary.orgs} organisation(s), user {summary.user_id}"
    print(f"lyceum: {args.email} erased in {where} ({counts or 'no content'})")


def cmd_courses_validate(args: argparse.Namespace) -> None:
    from app.content.loader import validate_path

    path = Path(args.path)
    if not path.exists():
        sys.exit(f"lyceum courses validate: {path} does not exist")
    errors = validate_path(path)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        sys.exit(f"{len(errors)} error(s)")
    print(f"lyceum: {path} is valid")


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document as ``lyceum openapi`` writes it (also built in-process by the contract test)."""
    import msgspec

    from app.asgi import create_app
    from app.domain.tutor.schemas import TutorEvent

    schema: dict[str, Any] = create_app(settings).openapi_schema.to_schema()
    # The streamed tutor events travel over WebSocket/SSE, which OpenAPI cannot describe as responses;
    # add their shapes as components so the web app's client is typed from the same source of truth.
    (event_union,), components = msgspec.json.schema_components(
        [TutorEvent], ref_template="#/components/schemas/{name}"
    )
    components["TutorEvent"] = event_union
    for name, component in components.items():
        schema["components"]["schemas"].setdefault(name, component)
    return schema


def cmd_openapi(args: argparse.Namespace) -> None:
    """Write the OpenAPI document; the web app's typed client is generated from it at build time."""
    import json

    schema = openapi_document(_settings(args))
    text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"lyceum: wrote {args.output}", file=sys.stderr)


def _wait_answering(url: str, children: list[ChildProcess], stop: dict[str, bool], timeout: float) -> bool:
    """Until ``url`` answers 200 (a child server is listening), one of ``children`` dies, a stop is asked for or
    ``timeout`` seconds pass; whether it answered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(child.alive() for child in children) and not stop["requested"]:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            if response.status == 200:
                return True
        time.sleep(0.2)
    return False


def _wait_healthy(url: str, apis: list[ChildProcess], stop: dict[str, bool], timeout: float = 300) -> bool:
    # Generous on purpose: on a busy 2-core laptop the API's first start (imports, the guardrail classifier
    # warming up) answered /health only after minutes. A healthy start returns at the first answer: the
    # kernel hands connections only to API processes that already listen, so whoever answers is ready.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(api.alive() for api in apis) and not stop["requested"]:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/health", timeout=5) as response:  # noqa: S310
            if response.status == 200:
                return True
        time.sleep(0.2)
    return False


def api_process_count(requested: int | None, settings: Settings) -> int:
    """How many API processes `lyceum up` runs: --workers, else LYCEUM_API_WORKERS, else one per core.
    One where the kernel cannot spread connections over several (docs/decisions/0013-api-processes.md)."""
    from app.config import MAX_API_WORKERS
    from app.server.api_process import default_api_processes, reuse_port_supported

    count = requested or settings.api_workers or default_api_processes()
    if not 1 <= count <= MAX_API_WORKERS:
        sys.exit(f"lyceum: --workers must be between 1 and {MAX_API_WORKERS} (got {count})")
    if count > 1 and not reuse_port_supported():
        if requested or settings.api_workers:
            print("lyceum: several API processes need Linux (SO_REUSEPORT); running one", file=sys.stderr)
        return 1
    return count


def _refuse_a_busy_port(host: str, port: int) -> None:
    from app.server.api_process import port_in_use

    if (busy := port_in_use(host, port)) is not None:
        sys.exit(f"lyceum: cannot listen on {host}:{port}: {busy.strerror or busy}")


def cmd_up(args: argparse.Namespace) -> None:
    from app.db.bootstrap import migrate
    from app.demo_history import seed_demo_ai_history
    from app.lib.observability import configure_logging
    from app.seed import seed, seed_demo_activity
    from app.server.api_process import api_process_argv

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_json or settings.is_production)
    processes = api_process_count(args.workers, settings)
    host, port = args.host or settings.host, args.port or settings.port
    # Before anything starts: the API processes share the port with SO_REUSEPORT, so a second `lyceum up`
    # on the same port would not fail to bind, it would silently serve half the connections.
    _refuse_a_busy_port(host, port)
    stop = {"requested": False}

    def request_stop(signum: int, _frame: object) -> None:
        stop["requested"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with _stack(settings) as (live, stack):
        # The demo's admins operate this development deployment (LYCEUM_PLATFORM_ORG, unless set): the AI usage
        # dashboard's "by organisation" view then shows both demo orgs (docs/observability.md).
        asyncio.run(migrate(replace(live, platform_org=live.platform_org or "demo")))
        report = asyncio.run(seed(live))
        asyncio.run(seed_demo_activity(live))
        # Made-up, labelled AI usage (not in the test suite's seed): the AI dashboards are not empty at first.
        history = asyncio.run(seed_demo_ai_history(live))
        env = child_env(live.database_url, live.redis_url)
        env["LYCEUM_DATA_DIR"] = str(live.data_dir)
        # The demo's offline tutor streams at a readable pace (about 120 words a second).
        env.setdefault("LYCEUM_TUTOR_OFFLINE_CHUNK_DELAY_MS", "25")
        # The demo accounts were just seeded: the sign-in page may mention them (GET /v1/config).
        env.setdefault("LYCEUM_DEMO_MODE", "true")
        servers: list[ChildProcess] = []
        if not live.chroma_url:
            # The API reads the search index while the worker writes it: two processes, so one Chroma server
            # (from the chromadb wheel) over <data dir>/chroma, not an embedded client in each.
            chroma_url, chroma = chroma_child(live, env)
            env["CHROMA_URL"] = chroma_url
            servers.append(chroma)
        url = f"http://{host}:{port}"
        api = ChildProcess("api", api_process_argv(live, host, port), env)
        # One API process per core on the same host:port (docs/decisions/0013-api-processes.md): each a
        # child of its own, so the supervisor restarts whichever dies while the others go on serving.
        apis = [api] if processes == 1 else [replace(api, name=f"api-{n}") for n in range(1, processes + 1)]
        worker = ChildProcess("worker", [sys.executable, "-m", "app.cli", "worker"], env)
        children = [*servers, *apis, worker]
        # Every process `lyceum up` runs is restarted with backoff if it dies (app/server/supervisor.py).
        supervisor = Supervisor([*stack.servers(), *children])
        try:
            # The other API processes start once the first answers: on a busy machine N interpreters
            # importing the app at once each take about N times as long, and the banner waits for one.
            for child in servers:
                child.start()
            # The worker indexes the seeded courses at once: with Chroma not yet listening, each index job
            # failed, retried and printed a traceback on a first `make dev`. Bounded: the retries still cover
            # a Chroma that takes longer.
            if servers:
                _wait_answering(f"{env['CHROMA_URL']}/api/v2/heartbeat", servers, stop, timeout=60)
            for child in [apis[0], worker]:
                child.start()
            if not _wait_healthy(url, apis[:1], stop):
                if not stop["requested"]:
                    print("lyceum: the API did not become healthy; see the log above", file=sys.stderr)
                stop["requested"] = True
            else:
                for api in apis[1:]:
                    api.start()
                print(banner(url, report, processes, history), flush=True)
            while not stop["requested"]:
                supervisor.check()
                time.sleep(0.3)
        finally:
            for child in children:
                child.terminate()
            for child in children:
                child.wait(timeout=15)
            print("lyceum: stopped", flush=True)


def chroma_child(settings: Settings, env: dict[str, str]) -> tuple[str, ChildProcess]:
    """A Chroma server on a free loopback port, persisting under the data dir (its output in
    ``<data dir>/chroma.log``), and its URL."""
    from app.server.embedded import free_port

    port = free_port()
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    argv = [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(settings.chroma_path)]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    log_path = settings.data_dir / "chroma.log"
    child = LoggedChildProcess("chroma", argv, {**env, "ANONYMIZED_TELEMETRY": "False"}, log_path=log_path)
    return f"http://127.0.0.1:{port}", child


def cmd_lti_rotate_key(args: argparse.Namespace) -> None:
    """Retire the LTI tool key (published for LYCEUM_LTI_KEY_GRACE_DAYS more) and activate a new one."""
    with _services(_settings(args)) as settings:
        retired, active = asyncio.run(_rotate_lti_key(settings))
    if retired:
        print(f"lyceum: LTI tool key {retired} retired (published {settings.lti_key_grace_days} more days)")
    print(f"lyceum: LTI tool key {active} is active; platforms fetch it from {settings.base_url}/lti/jwks.json")


async def _rotate_lti_key(settings: Settings) -> tuple[str | None, str]:
    from app.db.engine import Database
    from app.domain.lti.toolkeys import rotate

    db = Database.from_settings(settings)
    try:
        async with db.transaction(None) as session:  # the tool's keys are the deployment's: no tenant
            return await rotate(session, settings)
    finally:
        await db.dispose()


def lti_banner_lines(url: str) -> list[str]:
    """The LTI 1.3 tool URLs an LMS asks for (docs/lti.md); dynamic registration needs an admin's invitation."""
    from app.lib.lti.urls import tool_urls

    urls = tool_urls(url)
    return [
        "  LTI 1.3 tool (add Lyceum to an LMS; docs/lti.md):",
        f"    login     {urls.login}",
        f"    launch    {urls.launch}",
        f"    JWKS      {urls.jwks}",
        f"    register  {urls.register}  (dynamic registration: Admin > LMS platforms > registration link)",
    ]


def demo_history_line(history: DemoHistoryReport) -> str:
    return (
        f"made-up AI history in org {history.org} (labelled demo-history): {history.interactions} tutor turns, "
        f"{history.ratings} ratings, {history.ai_grades} AI grades over 4 weeks"
    )


def banner(url: str, report: SeedReport, api_processes: int = 1, history: DemoHistoryReport | None = None) -> str:
    """The one block `lyceum up` prints once the API answers: where to go, who to sign in as, what is loaded."""
    processes = f" ({api_processes} API processes)" if api_processes > 1 else ""
    lines = [
        "",
        f"  Lyceum is running at {url}{processes}",
        "",
        f"  Web app   {url}  (sign in as learner@demo.test, organisation demo)",
        f"  API docs  {url}/schema",
        f"  Demo data {report.summary()}",
        *([f"            {demo_history_line(history)}"] if history is not None else []),
        "",
        f"  Demo logins (password for all: {report.password}):",
    ]
    lines += [f"    org {org:<6} {email:<24} {', '.join(roles)}" for org, email, roles in report.users]
    lines += ["", *lti_banner_lines(url), "", "  Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lyceum", description="Lyceum learning platform")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run the whole platform (embedded PostgreSQL/Redis when no URLs are set)")
    # Defaults come from the validated settings (LYCEUM_HOST / LYCEUM_PORT), not from raw os.environ.
    up.add_argument("--host", default=None, help="interface to bind (default LYCEUM_HOST or 127.0.0.1)")
    up.add_argument("--port", type=int, default=None, help="port (default LYCEUM_PORT or 8000)")
    up.add_argument("--data-dir", default=None, help="where embedded data lives (default .lyceum)")
    up.add_argument(
        "--workers",
        type=int,
        default=None,
        help="API processes on the port (default LYCEUM_API_WORKERS, or one per core)",
    )
    up.set_defaults(func=cmd_up)
    for name, func, text in (
        ("migrate", cmd_migrate, "apply database migrations"),
        ("seed", cmd_seed, "load demo orgs, users and courses (idempotent)"),
        ("worker", cmd_worker, "run the SAQ background worker"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--data-dir", default=None)
        p.set_defaults(func=func)
    openapi = sub.add_parser("openapi", help="write the OpenAPI document (the web app's client is typed from it)")
    openapi.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
    openapi.set_defaults(func=cmd_openapi)
    courses = sub.add_parser("courses", help="course content tools")
    courses_sub = courses.add_subparsers(dest="courses_command", required=True)
    validate = courses_sub.add_parser("validate", help="validate course YAML (a file or a directory)")
    validate.add_argument("path")
    validate.set_defaults(func=cmd_courses_validate)
    index = sub.add_parser("index", help="the search index (PostgreSQL chunks and Chroma vectors)")
    index_sub = index.add_subparsers(dest="index_command", required=True)
    rebuild = index_sub.add_parser("rebuild", help="rebuild the search index from PostgreSQL")
    rebuild.add_argument("--org", default=None, help="only this organisation (its slug); default: every one")
    rebuild.add_argument("--data-dir", default=None)
    rebuild.set_defaults(func=cmd_index_rebuild)
    projections = sub.add_parser("projections", help="projections of the progress ledger (progress, mastery)")
    projections_sub = projections.add_subparsers(dest="projections_command", required=True)
    refold = projections_sub.add_parser(
        "rebuild", help="recompute progress and mastery from the append-only progress events"
    )
    refold.add_argument("--org", default=None, help="only this organisation (its slug); default: every one")
    refold.add_argument("--data-dir", default=None)
    refold.set_defaults(func=cmd_projections_rebuild)
    archive = sub.add_parser("archive", help="operator-only archival (runs as the database owner)")
    archive_sub = archive.add_subparsers(dest="archive_command", required=True)
    archive_org = archive_sub.add_parser(
        "org", help="write an org's append-only rows to a .jsonl.gz archive, then delete the org"
    )
    archive_org.add_argument("slug")
    archive_org.add_argument("--out", required=True, help="the archive to write (<file>.jsonl.gz)")
    archive_org.add_argument("--data-dir", default=None)
    archive_org.set_defaults(func=cmd_archive_org)
    erase = sub.add_parser("erase", help="operator-only erasure (a person who cannot ask for it themselves)")
    erase_sub = erase.add_subparsers(dest="erase_command", required=True)
    erase_user = erase_sub.add_parser(
        "user", help="erase a person's data in every org they belong to and pseudonymise their account"
    )
    erase_user.add_argument("email")
    erase_user.add_argument("--confirm", required=True, help="the same email again: erasure cannot be undone")
    erase_user.add_argument("--data-dir", default=None)
    erase_user.set_defaults(func=cmd_erase_user)
    lti = sub.add_parser("lti", help="LTI 1.3 tool administration")
    lti_sub = lti.add_subparsers(dest="lti_command", required=True)
    rotate_key = lti_sub.add_parser(
        "rotate-key", help="rotate the tool's signing key (the old one stays published for the grace period)"
    )
    rotate_key.add_argument("--data-dir", default=None)
    rotate_key.set_defaults(func=cmd_lti_rotate_key)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
