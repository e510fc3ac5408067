"""The layers point one way: lib <- db <- domain <- server/jobs (issue 11).

Every import in the package (module level, function level and under TYPE_CHECKING alike) is read with
`ast`, so a lower layer cannot reach up into a higher one, not even lazily."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# layer (a package, as a dotted prefix) -> the prefixes it must not import
FORBIDDEN = {
    "app.lib": ("app.db", "app.domain", "app.server", "app.runtime", "app.asgi", "app.cli", "app.seed", "jobs"),
    "app.db": ("app.domain", "app.server", "app.runtime", "app.asgi", "app.cli", "app.seed", "jobs"),
    "app.domain": ("app.server", "app.runtime", "app.asgi", "app.cli", "app.seed", "jobs"),
}

# Domain packages that reach each other through their imports (strongly connected groups): none since
# issue 11 step 3 (progress reads courses, grading and review call progress, review reads grading). The
# test fails if a group appears.
KNOWN_DOMAIN_CYCLES: set[frozenset[str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module imported by the file (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package.replace(".", "/")).rglob("*.py"))


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_above_it(layer: str) -> None:
    violations = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files(layer)
        for name in sorted(imports_of(path))
        if any(within(name, banned) for banned in FORBIDDEN[layer])
    ]
    assert not violations, "layers are lib <- db <- domain <- server/jobs:\n" + "\n".join(violations)


def test_no_service_locator_module() -> None:
    assert not (ROOT / "app" / "runtime.py").exists(), "the composition root lives in app/server/components.py"


def test_handlers_receive_services_not_the_components() -> None:
    """HTTP handlers take services from their domain's deps.py; the component bundle is only for the
    websocket handlers, the tutor's message handler (its turn runner) and the readiness probe."""
    allowed = {"feed_socket", "feed", "send_message", "socket", "ready", "_postgres", "metrics"}
    offenders = []
    for path in python_files("app.domain"):
        if not path.name.endswith("controllers.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)
                and node.name not in allowed
                and any(arg.arg in ("runtime", "components") for arg in node.args.args)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not offenders, "\n".join(offenders)


def test_only_providers_and_entry_points_see_the_components() -> None:
    """Services and runners take the clients they use by name: within the domain, the component bundle is
    known to the providers (``deps.py``), the handlers allowed above (controllers) and the socket entry
    points that build services themselves; never to a service, runner or helper."""
    allowed = {
        "deps.py",
        "controllers.py",
        "app/domain/review/feed.py",
        "app/domain/tutor/socket.py",
        "app/domain/lti/admin_deps.py",  # the LTI admin providers (named apart from the launch's deps.py)
        "app/domain/sso/saml_deps.py",  # the SAML providers (issue 16; named apart from the OIDC side's deps.py)
    }
    offenders = [
        path.relative_to(ROOT).as_posix()
        for path in python_files("app.domain")
        if "app.domain.components" in imports_of(path)
        and path.name not in allowed
        and path.relative_to(ROOT).as_posix() not in allowed
    ]
    assert not offenders, "modules that hold the component bundle:\n" + "\n".join(offenders)


def test_domain_cycles_are_only_the_known_ones() -> None:
    edges: set[tuple[str, str]] = set()
    for path in python_files("app.domain"):
        parts = module_name(path).split(".")
        if len(parts) < 3:
            continue
        source = parts[2]
        for name in imports_of(path):
            target = name.split(".")
            if (
                len(target) >= 3
                and target[:2] == ["app", "domain"]
                and target[2] != source
                and (ROOT / "app" / "domain" / target[2]).is_dir()
            ):
                edges.add((source, target[2]))
    reach = {a: {b for x, b in edges if x == a} for a, _ in edges}
    changed = True
    while changed:  # transitive closure
        changed = False
        for targets in reach.values():
            more = set().union(*(reach.get(b, set()) for b in targets)) - targets
            if more:
                targets |= more
                changed = True
    cycles = {frozenset({a} | {b for b in targets if a in reach.get(b, set())}) for a, targets in reach.items()}
    cycles = {group for group in cycles if len(group) > 1}
    assert cycles == KNOWN_DOMAIN_CYCLES, f"domain packages reaching each other: {sorted(map(sorted, cycles))}"


def test_services_open_only_tenant_scoped_transactions() -> None:
    """Services acting for a signed-in person hold a TenantDatabase (the RLS tenant comes from the
    principal: the ``tenant_db`` provider, held by every TenantService), whose ``transaction()`` takes no
    tenant. Passing a tenant by hand is left to the code that runs before or without a principal."""
    by_hand = {
        "app/domain/auth/services.py",  # sign-in and refresh: the org comes from the credentials
        "app/domain/auth/revocation.py",  # revocation state, read for a token being checked
        "app/domain/grading/services.py",  # GradingService: worker jobs carry their org
        "app/domain/tutor/turns.py",  # a tutor turn: the session's org and learner
        "app/domain/spaced/services.py",  # DueCounter: the daily due-count job spans every org
        "app/domain/credentials/issuance.py",  # IssuanceService: issue_credential jobs carry their org
        "app/domain/credentials/share.py",  # public share pages: the credential's org, then its tenant
        "app/domain/credentials/verification.py",  # public did.json/jwks/status/verify: the org the URL names
        "app/domain/lti/launch.py",  # LTI login/launch: no principal yet, the registration's org
        "app/domain/lti/jwks.py",  # /lti/jwks.json: the tool keys are the deployment's (no tenant)
        "app/domain/lti/dynamic.py",  # /lti/register: the org the admin's invitation names
        "app/domain/lti/frame_origins.py",  # the web app's frame-ancestors: every org's platforms (definer)
        "app/domain/lti/deep_linking.py",  # signs with the tool key, which belongs to no tenant
        "app/domain/lti/ags.py",  # lti_post_score jobs and their sweep carry their org
        "app/domain/lti/nrps.py",  # lti_sync_roster jobs carry their org; the nightly sync spans every org
        "app/domain/lti/service_token.py",  # the tool key (no tenant) signs a platform's token request
        "app/domain/sso/oidc.py",  # SSO login/callback: no principal yet, the org the URL names (issue 16)
        "app/domain/sso/handoff.py",  # the one-time code's grant names the org and user it signs in
        "app/domain/sso/saml.py",  # SAML login/ACS/exchange: no principal yet, the org the URL names
        "app/domain/orgadmin/acceptance.py",  # the public invitation page: the org the token's invitation names
        "app/domain/webhooks/delivery.py",  # webhooks_deliver jobs carry their org; the relay spans every org
        "app/domain/alerts/evaluation.py",  # the alerts_evaluate cron spans every org with a rule (definer)
        "app/domain/insights/rollup.py",  # the usage rollup cron: each org in its own transaction (issue 17)
        "app/domain/webhooks/retention.py",  # the daily prune spans every org with old events (definer)
        "app/domain/dataexport/builder.py",  # build_data_export jobs carry their org; the expiry cron spans orgs
        "app/domain/dataexport/download.py",  # the public download: the org its signed link names
        "app/domain/dataprivacy/retention.py",  # the daily transcript purge spans every org with a retention
        "app/domain/dataprivacy/objects.py",  # the purge's and erasure's file ref-check, in the org purged
        "app/domain/dataprivacy/erasure.py",  # a self-erasure visits every org the person belongs to
    }
    offenders = []
    for path in python_files("app.domain"):
        relative = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "transaction"
                and (node.args or node.keywords)
                and relative not in by_hand
            ):
                offenders.append(f"{relative}:{node.lineno}")
    assert not offenders, "open transactions through a TenantDatabase:\n" + "\n".join(offenders)


def import_cycles(package: str) -> list[list[str]]:
    """Groups of modules in the package that import each other, directly or round a loop (Tarjan's strongly
    connected components over the module import graph; TYPE_CHECKING and function-level imports count)."""
    modules = {module_name(path): path for path in python_files(package)}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imports_of(path):
            parts = imported.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()  # ``from pkg.module import name``: the module, not the name
            if parts and ".".join(parts) != name:
                targets.add(".".join(parts))
        edges[name] = targets
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


@pytest.mark.parametrize("package", ["app", "jobs"])
def test_no_module_import_cycles(package: str) -> None:
    """File level too (issue 11): e.g. tutor's turns.py and feed.py once imported each other for the turn's
    types; those live in tutor/chat.py now."""
    cycles = import_cycles(package)
    assert not cycles, f"modules importing each other: {cycles}"
