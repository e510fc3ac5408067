"""The LTI pages (app/domain/lti/pages.py): values cannot escape their script or markup; the headers keep
codes out of caches and referrers and allow only the page's own script."""

from __future__ import annotations

import html
import json
import re

from app.domain.lti.pages import error_page, redirect_page, storage_page

HOSTILE = '</script><script>alert("x")</script><!--'


def body_of(response: object) -> str:
    content = response.content  # type: ignore[attr-defined]
    return content if isinstance(content, str) else content.decode()


def test_storage_page_data_cannot_close_its_script() -> None:
    page = storage_page(
        mode="put",
        next_url="https://lms.example/auth?x=1&y=2",
        storage_target="_parent",
        state=HOSTILE,
        nonce="n",
        origin="https://lms.example",
    )
    text = body_of(page)
    scripts = re.findall(r"<script[^>]*>", text)
    assert len(scripts) == 2  # the data block and the nonce'd script, nothing injected
    data = json.loads(html.unescape(text.split('id="lti-data">', 1)[1].split("</script>", 1)[0]))
    assert data["state"] == HOSTILE
    assert data["next"] == "https://lms.example/auth?x=1&y=2"
    csp = page.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce is not None
    assert f'<script nonce="{nonce.group(1)}">' in text
    assert "default-src 'none'" in csp
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_redirect_and_error_pages_escape_what_they_show() -> None:
    redirect = body_of(redirect_page('/lti/app?code=a"><b>'))
    assert '"><b>' not in redirect
    error = error_page(400, "wrong_audience", HOSTILE)
    text = body_of(error)
    assert error.status_code == 400
    assert len(re.findall(r"<script", text)) == 1  # only the data block
    assert "&lt;/script&gt;" in text
