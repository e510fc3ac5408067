"""The graders a process uses, built once from settings (Claude with an API key, else offline), and the
review queue grading escalates to (a port: app/domain/grading/ports.py)."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings
from app.domain.grading.graders import OfflineRubricGrader, RubricGrader
from app.domain.grading.ports import ReviewQueue


@dataclass
class GradingComponents:
    rubric_grader: RubricGrader
    offline: bool
    review_queue: ReviewQueue  # the review domain's, plugged in by the composition root

    @classmethod
    def build(cls, settings: Settings, review_queue: ReviewQueue) -> GradingComponents:
        if settings.anthropic_api_key.value:
            # Imported only with a key: the SDK is the largest import of a process (about a third of
            # `lyceum up`'s start-up imports), and the offline grader, migrations and seeding never need it.
            from app.domain.grading.claude import ClaudeRubricGrader

            return cls(rubric_grader=ClaudeRubricGrader(settings), offline=False, review_queue=review_queue)
        return cls(rubric_grader=OfflineRubricGrader(), offline=True, review_queue=review_queue)

    async def aclose(self) -> None:
        close = getattr(self.rubric_grader, "aclose", None)  # the Claude grader holds an HTTP client
        if close is not None:
            await close()
