"""The generated badge image: an accessible SVG naming the course and its issuer.

It is the Achievement's image when the course file names none (embedded as a data URL, so the credential
names no address of this server), and, baked with the credential, the download of
``GET /v1/credentials/{id}/badge.svg``."""

from __future__ import annotations

import base64
import textwrap
from xml.sax.saxutils import escape

_WIDTH = 240
_LINE = 16


def _lines(text: str, width: int, most: int) -> list[str]:
    lines = textwrap.wrap(" ".join(text.split()), width) or [""]
    if len(lines) > most:
        lines = [*lines[: most - 1], textwrap.shorten(" ".join(lines[most - 1 :]), width, placeholder="…")]
    return lines


def badge_svg(course_title: str, issuer_name: str) -> str:
    """A round badge with the course title (up to three lines) and the issuer; ``role="img"`` with a title
    and description, so a screen reader says what it is."""
    title_lines = _lines(course_title, 22, 3)
    top = 128 - (len(title_lines) - 1) * _LINE // 2
    title_text = "".join(
        f'<tspan x="120" y="{top + n * _LINE}">{escape(line)}</tspan>' for n, line in enumerate(title_lines)
    )
    issuer = escape(_lines(issuer_name, 28, 1)[0])
    label = escape(f"{course_title}: a credential issued by {issuer_name}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_WIDTH}" '
        f'viewBox="0 0 {_WIDTH} {_WIDTH}" role="img" aria-labelledby="badge-title badge-desc">'
        f'<title id="badge-title">{escape(course_title)}</title>'
        f'<desc id="badge-desc">{label}</desc>'
        '<circle cx="120" cy="120" r="114" fill="#1d3557" stroke="#e9c46a" stroke-width="8"/>'
        '<circle cx="120" cy="120" r="96" fill="none" stroke="#f1faee" stroke-width="2" stroke-dasharray="4 6"/>'
        '<text x="120" y="70" text-anchor="middle" font-family="system-ui, sans-serif" font-size="13" '
        'fill="#e9c46a" letter-spacing="2">CERTIFIED</text>'
        '<text text-anchor="middle" font-family="system-ui, sans-serif" font-size="15" font-weight="700" '
        f'fill="#ffffff">{title_text}</text>'
        '<text x="120" y="186" text-anchor="middle" font-family="system-ui, sans-serif" font-size="11" '
        f'fill="#f1faee">{issuer}</text>'
        "</svg>"
    )


def course_badge_data_url(course_title: str, issuer_name: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(badge_svg(course_title, issuer_name).encode()).decode()
