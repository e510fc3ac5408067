"""OBv3 SVG baking (OBv3 §5.3.2): the credential travels inside the badge image.

Baking adds ``xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"`` to the ``<svg>`` tag and, directly
after it, one ``<openbadges:credential>`` element: with a ``verify="<compact JWS>"`` attribute for a
VC-JWT, or with the credential's JSON in a CDATA section for an embedded proof. An existing element is
replaced (the spec allows only one). Extraction reads the first such element.

Text-level rather than an XML parser: the SVG is our own template, and unbaking someone else's file must
not expand entities or fetch DTDs.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
MAX_SVG_BYTES = 2 * 1024 * 1024

_SVG_OPEN = re.compile(r"<svg\b[^>]*>", re.IGNORECASE)
_BOUND_PREFIX = re.compile(r"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']""" + re.escape(NAMESPACE) + r"""["']""")


def _element(prefix: str) -> re.Pattern[str]:
    name = re.escape(prefix) + r":credential"
    return re.compile(rf"<{name}\b([^>]*?)(?:/>|>(.*?)</{name}\s*>)\s*", re.DOTALL)


def bake_svg(svg: str, *, credential: Mapping[str, Any] | None = None, jwt: str | None = None) -> str:
    """``svg`` with the credential baked in (exactly one of ``credential`` / ``jwt``)."""
    if (credential is None) == (jwt is None):
        raise ValueError("bake either a credential or a jwt")
    svg = _element("openbadges").sub("", svg)
    match = _SVG_OPEN.search(svg)
    if match is None:
        raise ValueError("no <svg> element to bake into")
    tag = match.group(0)
    if f'xmlns:openbadges="{NAMESPACE}"' not in tag:
        closing = "/>" if tag.endswith("/>") else ">"
        tag = tag[: -len(closing)].rstrip() + f' xmlns:openbadges="{NAMESPACE}"' + closing
    if jwt is not None:
        element = f'<openbadges:credential verify="{html.escape(jwt, quote=True)}"></openbadges:credential>'
    else:
        # "]]>" can only occur inside a JSON string, where "\u003e" is the same character.
        text = json.dumps(credential, indent=2, ensure_ascii=False).replace("]]>", "]]\\u003e")
        element = f"<openbadges:credential><![CDATA[{text}]]></openbadges:credential>"
    if tag.endswith("/>"):  # an empty <svg/> gains content, so it needs a closing tag
        tag = tag[:-2].rstrip() + ">"
        return svg[: match.start()] + tag + "\n" + element + "\n</svg>" + svg[match.end() :]
    return svg[: match.start()] + tag + "\n" + element + "\n" + svg[match.end() :]


def unbake_svg(svg: str) -> dict[str, Any] | str | None:
    """The baked credential (a dict), the VC-JWT (a str), or ``None`` when there is none (never raises)."""
    if not isinstance(svg, str) or len(svg) > MAX_SVG_BYTES:
        return None
    bound = _BOUND_PREFIX.search(svg)
    match = _element(bound.group(1) if bound else "openbadges").search(svg)
    if match is None:
        return None
    attributes, body = match.group(1) or "", match.group(2) or ""
    verify = re.search(r"""\bverify\s*=\s*(?:"([^"]*)"|'([^']*)')""", attributes)
    if verify is not None:
        token = html.unescape(verify.group(1) if verify.group(1) is not None else verify.group(2)).strip()
        return token or None
    sections = re.findall(r"<!\[CDATA\[(.*?)\]\]>", body, re.DOTALL)
    text = "".join(sections) if sections else html.unescape(body)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
