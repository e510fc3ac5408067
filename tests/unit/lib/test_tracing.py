"""Tracing's settings and its pieces that need no server: the OTEL_* variables, the traces URL, the log
processor, and the trace context carried in a job's meta."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, load_settings
from app.lib import tracing


def test_the_standard_otel_variables_configure_tracing(tmp_path: Path) -> None:
    off = load_settings({"LYCEUM_DATA_DIR": str(tmp_path)})
    assert not tracing.configured(off)
    assert off.otel_sample_ratio == 1.0
    on = load_settings(
        {
            "LYCEUM_DATA_DIR": str(tmp_path),
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_SERVICE_NAME": "lyceum-eu",
            "LYCEUM_OTEL_SAMPLE_RATIO": "0.25",
        }
    )
    assert tracing.configured(on)
    assert (on.otel_service_name, on.otel_sample_ratio) == ("lyceum-eu", 0.25)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"LYCEUM_OTEL_SAMPLE_RATIO": "1.5"}, "LYCEUM_OTEL_SAMPLE_RATIO"),
        ({"LYCEUM_OTEL_SAMPLE_RATIO": "-0.1"}, "LYCEUM_OTEL_SAMPLE_RATIO"),
    ],
)
def test_bad_tracing_values_name_the_variable(env: dict[str, str], variable: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings({"LYCEUM_DATA_DIR": str(tmp_path), **env})


def test_the_traces_url_is_built_as_the_spec_says() -> None:
    assert tracing.traces_url("http://c:4318") == "http://c:4318/v1/traces"
    assert tracing.traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert tracing.traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"


def test_without_a_span_logs_and_jobs_carry_no_trace(tmp_path: Path) -> None:
    assert tracing.add_trace_ids(None, "info", {"event": "x"}) == {"event": "x"}
    meta: dict[str, str] = {}
    tracing.inject(meta)
    assert meta == {}
    assert tracing.setup_tracing(load_settings({"LYCEUM_DATA_DIR": str(tmp_path)}), "lyceum-api") is None
    assert tracing.active_provider() is None
