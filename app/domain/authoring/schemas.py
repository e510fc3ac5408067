"""What the authoring routes answer (``/v1/authoring``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from app.domain.courses.schemas import CourseDetail
from app.domain.tutor.schemas import Mode

# draft: never published; published: the draft is what learners see; changes_pending: edited since the
# last publish.
DraftStatus = Literal["draft", "published", "changes_pending"]


class DraftCreated(msgspec.Struct):
    """The contract of POST/PUT: ``version`` is the version publishing this draft would create."""

    id: UUID
    slug: str
    status: DraftStatus
    version: int


class AuthoringCourse(msgspec.Struct):
    """One row of the authoring list."""

    id: UUID
    slug: str
    title: str
    status: DraftStatus
    published_version: int | None  # None: never published
    course_id: UUID | None  # the live course, once published
    updated_at: datetime


class DraftDetail(msgspec.Struct):
    id: UUID
    slug: str
    title: str
    status: DraftStatus
    version: int  # the version publishing would create
    published_version: int | None
    course_id: UUID | None
    source: str  # the YAML as saved
    updated_at: datetime


class ValidationOk(msgspec.Struct):
    valid: bool
    slug: str
    title: str


class ItemChange(msgspec.Struct):
    slug: str
    title: str
    fields: list[str] = []  # for a changed item: which of its fields changed


class CourseDiff(msgspec.Struct):
    """The draft against the last published version (all items "added" when never published)."""

    base_version: int | None
    added: list[ItemChange]
    removed: list[ItemChange]
    changed: list[ItemChange]
    course_fields: list[str]  # course-level fields that changed (title, summary, ...)
    unchanged: bool


class PreviewItem(msgspec.Struct):
    """An item as the learner's item view shows it (its lesson text), from the draft."""

    id: UUID
    course_id: UUID
    module_id: UUID
    slug: str
    kind: str
    title: str
    bloom_level: str
    estimated_minutes: int
    body: str
    prerequisites: list[UUID]
    assessment_type: str | None = None


class CoursePreview(msgspec.Struct):
    """The learner view of the draft: the outline as ``GET /v1/courses/{id}`` shows it and every item, with
    ids derived from the draft (stable across saves; not the live rows' ids), plus the diff."""

    draft_id: UUID
    status: DraftStatus
    version: int
    course: CourseDetail
    items: list[PreviewItem]
    diff: CourseDiff


class Published(msgspec.Struct):
    version: int
    course_id: UUID
    removed_items: list[str] = []


class MigrationReport(msgspec.Struct):
    """Learners moved to the latest version: how many, from which versions (None: enrolled before versions
    were recorded), and the items of those versions the latest no longer has (their progress on the items
    kept carries over: items are matched by slug, and a kept item is the same live row)."""

    version: int
    migrated: int
    from_versions: list[int | None]
    removed_items: list[str]


# The preview tutor keeps no conversation on the server: the browser sends its last turns back.
PREVIEW_HISTORY_TURNS = 10


class PreviewTurn(msgspec.Struct, forbid_unknown_fields=True):
    """An earlier question of the preview conversation and the reply the browser was shown."""

    user: Annotated[str, msgspec.Meta(max_length=20_000)]
    reply: Annotated[str, msgspec.Meta(max_length=40_000)]


class PreviewTutorIn(msgspec.Struct, forbid_unknown_fields=True):
    """A question to the draft's tutor about one preview item (``item_id`` as the preview lists it). The
    text is checked like a learner's message (empty, too long, binary: 422); ``history`` holds at most
    PREVIEW_HISTORY_TURNS earlier turns, oldest first; ``id`` is echoed as the events' ``message_id``."""

    item_id: UUID
    text: Annotated[str, msgspec.Meta(max_length=100_000)]
    mode: Mode = "socratic"
    history: Annotated[list[PreviewTurn], msgspec.Meta(max_length=PREVIEW_HISTORY_TURNS)] = []
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
