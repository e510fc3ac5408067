"""Licence check of the dependencies Lyceum ships: the Python runtime packages and the web app's npm packages.

Lyceum is Apache-2.0. A dependency under a licence that is incompatible with distributing it under Apache-2.0
(the GPL family without the library exception, AGPL, SSPL, non-commercial or source-available terms) fails the
check, and so does one whose licence cannot be read, unless ``tools/licence-policy.toml`` lists it as an accepted
exception with a reason. Only what ships is checked: the runtime closure resolved in ``uv.lock`` (the dev group
left out) and the npm packages bundled into the web app (``npm ls --omit=dev``); test and build tools are not
distributed. Everything is read from the installed packages: no network.

    uv run python tools/licences.py          # report; exit status 1 on a violation
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLICY_FILE = ROOT / "tools" / "licence-policy.toml"

# Permissive licences, and MPL-2.0 (file-level copyleft: using an unmodified MPL package from Apache-2.0 code,
# or shipping it, is compatible; only changes to its own files must be shared).
ALLOWED = frozenset(
    {
        "0BSD", "Apache-2.0", "BlueOak-1.0.0", "BSD-2-Clause", "BSD-3-Clause", "BSL-1.0", "CC0-1.0", "HPND",
        "ISC", "MIT", "MIT-0", "MPL-2.0", "PSF-2.0", "Python-2.0", "Unlicense", "W3C", "Zlib",
    }
)  # fmt: skip
# Never acceptable in a dependency of an Apache-2.0 project that others redistribute.
INCOMPATIBLE = re.compile(r"^(A?GPL|SSPL|BUSL|CC-BY-NC|CC-BY-ND|Commons-Clause|Elastic)", re.IGNORECASE)

# What packages write instead of SPDX identifiers (the License field and trove classifiers).
ALIASES = {
    "mit license": "MIT",
    "mit": "MIT",
    "apache 2.0": "Apache-2.0",
    "apache-2.0": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache license version 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "bsd license": "BSD-3-Clause",  # the classifier does not say which; both BSD variants are allowed
    "bsd 3-clause license": "BSD-3-Clause",
    "3-clause bsd license": "BSD-3-Clause",
    "isc license": "ISC",
    "isc license (iscl)": "ISC",
    "python software foundation license": "PSF-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
}
# First words of well-known licence texts, for packages whose metadata carries only the file.
TEXT_MARKERS = (
    (re.compile(r"^\s*Apache License\s+Version 2\.0", re.MULTILINE), "Apache-2.0"),
    (re.compile(r"Permission is hereby granted, free of charge"), "MIT"),
)


@dataclass(frozen=True)
class Finding:
    ecosystem: str  # "python" or "npm"
    package: str
    version: str
    licence: str  # as read (an SPDX expression where possible)
    verdict: str  # "ok", "exception: <reason>", "incompatible", "unknown"

    @property
    def fails(self) -> bool:
        return self.verdict in ("incompatible", "unknown")


def normalise(term: str) -> str:
    cleaned = term.strip().strip("()").strip()
    return ALIASES.get(cleaned.lower(), cleaned)


def judge_expression(expression: str) -> str:
    """'ok', 'incompatible' or 'unknown' for an SPDX-like expression: OR needs one acceptable choice, AND all."""
    alternatives = [part for part in re.split(r"\s+OR\s+", expression.replace("(", " ").replace(")", " "))]
    verdicts = []
    for alternative in alternatives:
        terms = [normalise(term.split(" WITH ")[0]) for term in re.split(r"\s+AND\s+", alternative) if term.strip()]
        if terms and all(term in ALLOWED for term in terms):
            return "ok"
        if any(INCOMPATIBLE.match(term) and not term.upper().startswith("LGPL") for term in terms):
            verdicts.append("incompatible")
        else:
            verdicts.append("unknown")
    return "incompatible" if verdicts and all(v == "incompatible" for v in verdicts) else "unknown"


def python_licence(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    if expression := meta.get("License-Expression"):
        return str(expression)
    field = (meta.get("License") or "").strip()
    if field and "\n" not in field and len(field) < 60 and normalise(field) in ALLOWED | set(ALIASES.values()):
        return normalise(field)
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        return " AND ".join(sorted({normalise(c) for c in classifiers}))
    for name in meta.get_all("License-File") or []:
        text = _read_licence_file(dist, name)
        for marker, spdx in TEXT_MARKERS:
            if marker.search(text):
                return spdx
    return field.splitlines()[0][:60] if field else "(none declared)"


def _read_licence_file(dist: metadata.Distribution, name: str) -> str:
    for candidate in (name, f"licenses/{name}"):
        text = dist.read_text(candidate)
        if text:
            return text[:2000]
    return ""


def python_runtime_packages() -> list[str]:
    """Every package the project needs at run time, walked from its own entry in ``uv.lock`` (dev group left out,
    extras followed). Read from the lock file, so the check needs neither uv nor the network."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {package["name"]: package for package in lock["package"]}
    seen: set[str] = set()
    pending: list[tuple[str, tuple[str, ...]]] = [("lyceum", ())]
    while pending:
        name, extras = pending.pop()
        package = packages.get(name)
        if package is None:
            continue
        requirements = list(package.get("dependencies", []))
        for extra in extras:
            requirements += package.get("optional-dependencies", {}).get(extra, [])
        if name in seen and not extras:
            continue
        seen.add(name)
        for requirement in requirements:
            pending.append((requirement["name"], tuple(requirement.get("extra", ()))))
    seen.discard("lyceum")
    return sorted(seen)


def npm_runtime_packages(copied_dev_packages: list[str]) -> list[tuple[str, str, str]]:
    """(name, version, licence) of every package the built web app can contain: the production dependencies,
    and the dev packages whose files the build copies into dist/ (Swagger UI's assets)."""
    listed = subprocess.run(
        ["npm", "ls", "--omit=dev", "--all", "--parseable", "--long"],
        cwd=ROOT / "frontend",
        capture_output=True,
        text=True,
        check=False,  # npm ls exits 1 on extraneous packages; the listing is still complete
    ).stdout
    paths = [Path(line.split(":", 1)[0]) for line in listed.splitlines()[1:]]
    paths += [ROOT / "frontend" / "node_modules" / name for name in copied_dev_packages]
    packages = []
    for path in paths:
        manifest = json.loads((path / "package.json").read_text())
        licence = manifest.get("license") or manifest.get("licenses") or "(none declared)"
        if isinstance(licence, dict):
            licence = licence.get("type", "(none declared)")
        if isinstance(licence, list):
            licence = " OR ".join(item.get("type", "?") if isinstance(item, dict) else str(item) for item in licence)
        packages.append((manifest["name"], manifest.get("version", "?"), str(licence)))
    return sorted(set(packages))


def check() -> list[Finding]:
    policy = tomllib.loads(POLICY_FILE.read_text())
    findings: list[Finding] = []
    for name in python_runtime_packages():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # only for other platforms (an environment marker excluded it here)
        licence = python_licence(dist)
        findings.append(_finding("python", name, dist.version, licence, policy.get("python", {})))
    for name, version, licence in npm_runtime_packages(
        policy.get("shipped", {}).get("npm_dev_packages_in_the_build", [])
    ):
        findings.append(_finding("npm", name, version, licence, policy.get("npm", {})))
    return findings


def _finding(ecosystem: str, name: str, version: str, licence: str, exceptions: dict[str, object]) -> Finding:
    verdict = judge_expression(licence)
    entry = exceptions.get(name)
    if verdict != "ok" and isinstance(entry, dict) and entry.get("reason"):
        verdict = f"exception: {entry['reason']}"
    return Finding(ecosystem, name, version, licence, verdict)


def main() -> int:
    findings = check()
    for finding in findings:
        if finding.verdict != "ok":
            print(f"{finding.ecosystem:6} {finding.package} {finding.version}: {finding.licence} -> {finding.verdict}")
    failures = [f for f in findings if f.fails]
    print(f"licences: {len(findings)} shipped packages checked, {len(failures)} not acceptable")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
