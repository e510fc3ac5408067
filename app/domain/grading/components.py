"""The graders a process uses, built once from settings (Claude with an API key, else offline)."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings
from app.domain.grading.claude import ClaudeRubricGrader
from app.domain.grading.graders import OfflineRubricGrader, RubricGrader


@dataclass
class GradingComponents:
    rubric_grader: RubricGrader
    offline: bool

    @classmethod
    def build(cls, settings: Settings) -> GradingComponents:
        if settings.anthropic_api_key.value:
            return cls(rubric_grader=ClaudeRubricGrader(settings), offline=False)
        return cls(rubric_grader=OfflineRubricGrader(), offline=True)

    async def aclose(self) -> None:
        if isinstance(self.rubric_grader, ClaudeRubricGrader):
            await self.rubric_grader.aclose()
