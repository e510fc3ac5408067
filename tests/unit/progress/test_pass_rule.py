"""The pass rule is written once (app/domain/progress/completion.py ``passes``): a fraction of a positive maximum."""

from app.domain.progress.completion import passes


def test_pass_rule() -> None:
    assert passes(7, 10, 0.7)
    assert not passes(6.9, 10, 0.7)
    assert passes(0, 10, 0.0)
    assert not passes(0, 0, 0.0), "nothing to score: never a pass"
    assert passes(1.0, 1.0, 1.0)
