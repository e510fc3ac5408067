"""Learners whose submissions flow through grading (docs/grading.md), in the Scalable Systems course.

``Submitter`` works its way to the course's short-answer assessment the way a learner does: enroll,
complete the two caching lessons, pass the caching quiz (multiple choice, graded inside the request;
the answer key is read from ``content/courses/scalable-systems.yaml``), complete the next lessons and
the exercise, then loops: submit a short answer to ``receipt-pipeline-design`` (the worker grades it:
the offline key-term grader, or the model the server is configured with) and poll
``GET /v1/submissions/{id}`` until it leaves ``queued``/``grading``. Now and then it submits the quiz
again (exact grading in the request, which also publishes to the live feed).

Recorded besides the HTTP calls (request type ``GRADE``): ``submission graded (<status>)`` — submit →
final status (``graded``, or ``in_review`` when the grade waits for a person, as every offline grade
does), the latency a learner waits for a grade. ``failed`` or no final status in time is a failure.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import yaml
from locust import between, task
from locust.exception import StopUser

from journeys.common import LyceumUser, StreamError, fire, new_learner, open_course

COURSE = "scalable-systems"
QUIZ = "caching-quiz"
SHORT_ANSWER = "receipt-pipeline-design"
BEFORE_QUIZ = ("caching-fundamentals", "invalidation-and-stampedes")
BEFORE_SHORT_ANSWER = ("why-background-jobs", "delivery-guarantees-and-retries", "design-a-retry-policy")
GRADE_DEADLINE = 300.0  # seconds; bounds a submission that never finishes grading
ANSWERS = (
    "The request commits the order and enqueues a job in the same transaction (an outbox), then returns; "
    "a worker sends the receipt email with retries, exponential backoff and jitter, bounded attempts and a "
    "dead-letter queue. The job is idempotent with a key so a duplicate delivery sends no second email. "
    "We monitor queue depth, the oldest message age and the failure rate.",
    "Send the email from a background job so the user does not wait on the provider. Retry with backoff.",
    "Queue it, retry it, alert when the dead-letter queue grows; use an idempotency key per order.",
)


def quiz_key() -> list[int]:
    course = Path(__file__).resolve().parents[2] / "content" / "courses" / f"{COURSE}.yaml"
    spec = yaml.safe_load(course.read_text())
    for module in spec["modules"]:
        for item in module["items"]:
            if item["slug"] == QUIZ:
                return [int(q["answer"]) for q in item["assessment"]["questions"]]
    raise LookupError(f"{QUIZ} not found in {course}")


class Submitter(LyceumUser):
    weight = 2
    wait_time = between(5, 15)  # the per-learner submission bucket refills one every 3 s
    quiz_id: str
    short_answer_id: str
    key: list[int] = quiz_key()

    def on_start(self) -> None:
        super().on_start()
        new_learner(self)
        course, items = open_course(self, COURSE)
        by_slug = {item["slug"]: item for item in items}
        for slug in BEFORE_QUIZ:
            self._complete(course["id"], by_slug[slug]["id"])
        self.quiz_id = self._assessment(by_slug[QUIZ]["id"])
        submission = self._submit(self.quiz_id, {"choices": self.key}, "POST /v1/assessments/{id}/submissions (quiz)")
        if submission is None or (submission.get("submission") or {}).get("passed") is False:
            raise StopUser  # the quiz must open the rest of the course
        for slug in BEFORE_SHORT_ANSWER:
            self._complete(course["id"], by_slug[slug]["id"])
        self.short_answer_id = self._assessment(by_slug[SHORT_ANSWER]["id"])

    def _complete(self, course_id: str, item_id: str) -> None:
        path = f"/v1/courses/{course_id}/items/{item_id}/completion"
        self.until_ok(lambda: self.call("POST", path, "POST /v1/courses/{id}/items/{item_id}/completion"))

    def _assessment(self, item_id: str) -> str:
        path = f"/v1/items/{item_id}/assessment"
        body = self.until_ok(lambda: self.call("GET", path, "GET /v1/items/{id}/assessment"))
        return str(body["id"])

    def _submit(self, assessment_id: str, answer: dict[str, Any], name: str) -> dict[str, Any] | None:
        status, body = self.call("POST", f"/v1/assessments/{assessment_id}/submissions", name, ok=(202,), json=answer)
        return body if status == 202 else None

    @task(4)
    def short_answer(self) -> None:
        started = time.perf_counter()
        name = "POST /v1/assessments/{id}/submissions (short answer)"
        accepted = self._submit(self.short_answer_id, {"text": random.choice(ANSWERS)}, name)
        if accepted is None:
            return  # refused (429: recorded under its own name) or failed (recorded)
        deadline = time.monotonic() + GRADE_DEADLINE
        while time.monotonic() < deadline:
            status, body = self.call("GET", f"/v1/submissions/{accepted['id']}", "GET /v1/submissions/{id}")
            if body is not None and body.get("status") not in ("queued", "grading"):
                final = str(body.get("status"))
                why = f"submission {final}: {body.get('detail', '')}"[:200]
                error = StreamError(why) if final == "failed" else None
                fire(self.environment, "GRADE", f"submission graded ({final})", started, exception=error)
                return
            time.sleep(1.0 if status != 429 else 3.0)
        fire(self.environment, "GRADE", "submission graded", started, exception=StreamError("not graded in time"))

    @task(1)
    def quiz_again(self) -> None:
        self._submit(self.quiz_id, {"choices": self.key}, "POST /v1/assessments/{id}/submissions (quiz)")
