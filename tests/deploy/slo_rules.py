"""The SLO generator (deploy/prometheus/generate_rules.py) loaded as a module: deploy/ is not a package."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "deploy/prometheus/generate_rules.py"
RULES = ROOT / "deploy/prometheus/rules/lyceum-slo.rules.yml"
DASHBOARD = ROOT / "deploy/grafana/lyceum-slo.json"
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")
_LYCEUM = re.compile(r"\b(lyceum_[a-z0-9_]+)")


def generator() -> ModuleType:
    name = "lyceum_generate_slo_rules"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, GENERATOR)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def recorded_names() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def lyceum_metrics(expr: str) -> set[str]:
    """The application's metric names an expression reads (``lyceum_*``)."""
    return set(_LYCEUM.findall(expr))


def selected_names(expr: str) -> set[str]:
    """Every metric name written with a label selector (``name{...}``)."""
    return set(_SELECTOR.findall(expr))


def exported_names() -> set[str]:
    """Every sample name the application's registry can export, children not yet created included."""
    import app.asgi  # noqa: F401  # the API's routes and their domain modules register their metrics
    import jobs.worker  # noqa: F401  # and the worker's
    from app.lib.observability import REGISTRY

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return names
