"""`lyceum up` (make dev) prints the LTI tool URLs next to the demo logins (issue 14, done-when)."""

from __future__ import annotations

from app.cli import banner
from app.seed import SeedReport


def test_banner_prints_the_lti_urls_after_the_demo_logins() -> None:
    report = SeedReport(
        orgs=["demo"], users=[("demo", "learner@demo.test", ["learner"])], password="pw", org_courses={"demo": ["a"]}
    )
    text = banner("http://127.0.0.1:8000", report)
    assert "login     http://127.0.0.1:8000/lti/login" in text
    assert "launch    http://127.0.0.1:8000/lti/launch" in text
    assert "JWKS      http://127.0.0.1:8000/lti/jwks.json" in text
    assert "register  http://127.0.0.1:8000/lti/register" in text
    assert text.index("learner@demo.test") < text.index("/lti/login") < text.index("Press Ctrl-C")
