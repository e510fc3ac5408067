"""The Python SBOM of a release: CycloneDX, written by cyclonedx-bom from the installed packages, kept to what ships.

``cyclonedx-py environment`` reads the project's virtualenv (offline, with each package's declared licence), which
also holds the test and build tools; this keeps only the runtime closure resolved in ``uv.lock`` (the same set
tools/licences.py checks) and the dependency edges between those. The npm SBOM comes from cyclonedx-npm
(``make release``).

    uv run python tools/sbom.py dist/lyceum-0.1.0-python.cdx.json
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from licences import ROOT, python_runtime_packages


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(output: Path) -> int:
    shipped = {canonical(name) for name in python_runtime_packages()}
    with tempfile.TemporaryDirectory() as scratch:
        full = Path(scratch) / "environment.cdx.json"
        subprocess.run(
            [sys.executable, "-m", "cyclonedx_py", "environment", sys.executable, "--pyproject",
             str(ROOT / "pyproject.toml"), "--of", "JSON", "--output-reproducible", "-o", str(full)],
            check=True,
        )  # fmt: skip
        bom = json.loads(full.read_text())
    kept = [c for c in bom.get("components", []) if canonical(c["name"]) in shipped]
    refs = {c["bom-ref"] for c in kept} | {bom["metadata"]["component"]["bom-ref"]}
    bom["components"] = kept
    bom["dependencies"] = [
        {**d, "dependsOn": [r for r in d.get("dependsOn", []) if r in refs]}
        for d in bom.get("dependencies", [])
        if d["ref"] in refs
    ]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(bom, indent=2) + "\n")
    missing = shipped - {canonical(c["name"]) for c in kept}
    note = f" (not installed on this platform: {sorted(missing)})" if missing else ""
    print(f"sbom: {len(kept)} Python packages in {output}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
