"""The course file's optional ``credential:`` block: defaults, images by URL or by file, and its rules."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from app.content.loader import credential_of, load_course, validate_path

COURSES = Path(__file__).resolve().parents[3] / "content" / "courses"


def _course_file(tmp_path: Path, credential: object | None) -> Path:
    data = yaml.safe_load((COURSES / "distributed-systems-lab.yaml").read_text(encoding="utf-8"))
    data.pop("credential", None)
    if credential is not None:
        data["credential"] = credential
    path = tmp_path / "course.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _reasons(path: Path) -> list[str]:
    return [f"{e.path}: {e.reason}" for e in validate_path(path)]


def test_every_demo_course_has_a_valid_credential_block() -> None:
    for name in ("backend-foundations", "scalable-systems", "distributed-systems-lab", "acme-secure-coding"):
        course = load_course(COURSES / f"{name}.yaml")
        assert course.credential is not None, name
        assert course.credential.criteria.strip(), name


def test_without_a_block_the_defaults_apply(tmp_path: Path) -> None:
    course = load_course(_course_file(tmp_path, None))
    assert credential_of(course, tmp_path) == {
        "criteria": "Completed every item of Distributed Systems Lab, including its assessments.",
        "image": "",
        "valid_for_days": None,
    }


def test_an_image_file_is_embedded_as_a_data_url(tmp_path: Path) -> None:
    (tmp_path / "badges").mkdir()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    (tmp_path / "badges" / "b.svg").write_bytes(svg)
    course = load_course(_course_file(tmp_path, {"image": "badges/b.svg", "valid_for_days": 30}))
    stored = credential_of(course, tmp_path)
    assert stored["image"] == "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
    assert stored["valid_for_days"] == 30


def test_an_image_url_is_kept(tmp_path: Path) -> None:
    course = load_course(_course_file(tmp_path, {"image": "https://example.org/badge.png"}))
    assert credential_of(course, tmp_path)["image"] == "https://example.org/badge.png"


def test_bad_blocks_are_reported_with_their_path(tmp_path: Path) -> None:
    (tmp_path / "big.png").write_bytes(b"x" * (256 * 1024 + 1))
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    cases = {
        "criteria must say how": {"criteria": "   "},
        "leaves the course's directory": {"image": "../outside.svg"},
        "no image file": {"image": "missing.svg"},
        "must be one of": {"image": "notes.txt"},
        "larger than 256 KB": {"image": "big.png"},
        "http(s) URL or a path": {"image": "ftp://example.org/b.png"},
        "has no host": {"image": "https:///b.png"},
        "valid_for_days": {"valid_for_days": 0},
        "unknown field": {"title": "x"},
    }
    for expected, block in cases.items():
        reasons = _reasons(_course_file(tmp_path, block))
        assert any(expected in r and r.startswith("credential") for r in reasons), (expected, reasons)
