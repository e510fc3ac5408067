"""The one YAML-spec loader (app/lib/yamlspec.py): lines, paths, suggestions; and the files that use it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec
import pytest

from app.config import ConfigError, load_settings
from app.content.loader import ContentError
from app.domain.tutor.guardrails.policy import PolicyError, validate_policy_file
from app.domain.tutor.prompts import PromptError, PromptRegistry
from app.lib import yamlspec


class Limits(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    max_chars: Annotated[int, msgspec.Meta(ge=1)] = 10
    mode: Literal["block", "flag"] = "block"


class Step(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    limits: Limits = Limits()


class Plan(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str
    steps: list[Step] = []


SPEC = yamlspec.Spec(noun="setting", allowed="allowed here:", choices={"mode": ("block", "flag")})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


def only(errors: list[yamlspec.SpecError]) -> yamlspec.SpecError:
    assert len(errors) == 1, errors
    return errors[0]


def test_a_valid_file_decodes(tmp_path: Path) -> None:
    plan, errors = yamlspec.load(write(tmp_path, "title: T\nsteps:\n  - name: a\n"), Plan, SPEC)
    assert errors == []
    assert plan == Plan(title="T", steps=[Step(name="a")])


def test_unknown_key_gets_path_line_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "title: T\nsteps:\n  - name: a\n  - name: b\n    limits:\n      max_char: 3\n")
    error = only(yamlspec.load(path, Plan, SPEC)[1])
    assert error.path == "steps[1].limits.max_char"
    assert error.line == 6
    assert error.reason == "unknown setting `max_char` (did you mean `max_chars`?)"
    assert str(error) == f"{path}: steps[1].limits.max_char: {error.reason} (line 6)"


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(tmp_path: Path) -> None:
    error = only(yamlspec.load(write(tmp_path, "title: T\ncolour: red\n"), Plan, SPEC)[1])
    assert error.reason == "unknown setting `colour` (allowed here: title, steps)"


def test_enum_and_range_errors_name_the_allowed_values(tmp_path: Path) -> None:
    text = "title: T\nsteps:\n  - name: a\n    limits: {mode: warn}\n"
    error = only(yamlspec.load(write(tmp_path, text), Plan, SPEC)[1])
    assert (error.path, error.line) == ("steps[0].limits.mode", 4)
    assert "(allowed: block, flag)" in error.reason
    error = only(yamlspec.load(write(tmp_path, "title: T\nsteps: [{name: a, limits: {max_chars: 0}}]\n"), Plan)[1])
    assert error.path == "steps[0].limits.max_chars"
    assert ">= 1" in error.reason


@pytest.mark.parametrize(
    ("text", "path", "reason", "line"),
    [
        ("title: T\ntitle: U\n", "title", "duplicate key `title` (a key may appear once)", 2),
        ("title: [unclosed\n", "$", "YAML syntax error at line 2", 2),
        ("", "$", "file is empty", 1),
        ("# only a comment\n", "$", "file is empty", 1),
    ],
)
def test_parse_problems_are_located(tmp_path: Path, text: str, path: str, reason: str, line: int) -> None:
    document, errors = yamlspec.parse(write(tmp_path, text))
    assert document is None
    error = only(errors)
    assert (error.path, error.line) == (path, line)
    assert error.reason.startswith(reason)


def test_unreadable_files(tmp_path: Path) -> None:
    assert only(yamlspec.parse(tmp_path / "missing.yaml")[1]).reason == "file not found"
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"title: caf\xe9\n")
    assert only(yamlspec.parse(bad)[1]).reason.startswith("file is not valid UTF-8 text")


def test_merge_keys_and_recursive_aliases_are_not_errors(tmp_path: Path) -> None:
    text = "base: &b {max_chars: 3}\nother:\n  <<: *b\n  <<: *b\n"
    document, errors = yamlspec.parse(write(tmp_path, text))
    assert errors == []
    assert document is not None
    assert document.data["other"] == {"max_chars": 3}


def test_paths_round_trip() -> None:
    assert yamlspec.split_path("$.modules[1].items[0].slug") == ["modules", 1, "items", 0, "slug"]
    assert yamlspec.split_path("modules[1].slug") == ["modules", 1, "slug"]
    assert yamlspec.format_path(["modules", 1, "slug"]) == "modules[1].slug"
    assert yamlspec.format_path([]) == "$"
    assert yamlspec.parent("modules[1].slug") == "modules[1]"
    assert yamlspec.parent("modules") == "$"


def test_courses_and_policies_share_the_error_type() -> None:
    assert ContentError is PolicyError is yamlspec.SpecError


def test_policies_report_through_the_shared_loader(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text("input:\n  max_chars: 10\n  max_chars: 20\n")
    path.with_name("default.yaml").write_text("version: 1\n")
    error = only(validate_policy_file(path))
    assert (error.path, error.line) == ("input.max_chars", 3)
    assert error.reason.startswith("duplicate key `max_chars`")


def test_prompt_errors_name_the_file_path_and_line(tmp_path: Path) -> None:
    (tmp_path / "tutor.yaml").write_text("name: tutor\nversions:\n  - version: a\n    sytem: hi\nmodes: {}\n")
    with pytest.raises(PromptError) as caught:
        PromptRegistry(tmp_path).file("tutor")
    assert str(caught.value) == (
        f"{tmp_path / 'tutor.yaml'}: versions[0].sytem: unknown field `sytem` (did you mean `system`?) (line 4)"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LYCEUM_PORT": "eighty"}, "LYCEUM_PORT='eighty' is not an integer"),
        ({"LYCEUM_DB_POOL_SIZE": "-3"}, "LYCEUM_DB_POOL_SIZE='-3' must not be negative"),
        ({"LYCEUM_REVIEW_SAMPLE_RATE": "x"}, "LYCEUM_REVIEW_SAMPLE_RATE='x' is not a number"),
        ({"LYCEUM_TUTOR_READ_TIMEOUT_SECONDS": "inf"}, "LYCEUM_TUTOR_READ_TIMEOUT_SECONDS='inf' must be a finite"),
        ({"LYCEUM_LOG_JSON": "maybe"}, "LYCEUM_LOG_JSON='maybe' is not a boolean (use true/false)"),
        (
            {"LYCEUM_ENVIRONMENT": "staging"},
            "LYCEUM_ENVIRONMENT='staging' must be one of development, test, production",
        ),
        ({"LYCEUM_RATE_LIMIT_API_USER": "0/60s"}, "LYCEUM_RATE_LIMIT_API_USER='0/60s': burst and period must be"),
    ],
)
def test_settings_messages_keep_their_wording(env: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"LYCEUM_DATA_DIR": str(tmp_path), **env})
    assert str(caught.value).startswith(message)


def test_settings_convert_every_kind_of_variable(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "LYCEUM_DATA_DIR": str(tmp_path),
            "LYCEUM_PORT": " 8080 ",
            "LYCEUM_LOG_JSON": "on",
            "LYCEUM_DEMO_MODE": "",
            "LYCEUM_CORS_ORIGINS": "https://a.example, https://b.example,",
            "LYCEUM_RATE_LIMIT_API_USER": "5/1m",
            "LYCEUM_REVIEW_SAMPLE_RATE": "0.5",
            "ANTHROPIC_API_KEY": "sk-test",
            "LYCEUM_ENVIRONMENT": "test",
        },
        host="0.0.0.0",
    )
    assert settings.data_dir == tmp_path
    assert settings.port == 8080
    assert settings.log_json is True
    assert settings.demo_mode is False
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert str(settings.rate_limit_api_user) == "5/60s"
    assert settings.review_sample_rate == 0.5
    assert settings.anthropic_api_key.value == "sk-test"
    assert settings.environment == "test"
    assert settings.host == "0.0.0.0"
