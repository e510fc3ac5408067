"""Authored course content: the YAML format (``schema``) and its loader/validator (``loader``).

See docs/course-format.md for the format reference.
"""

from app.content.loader import (
    ContentError,
    ContentValidationError,
    course_content_hash,
    load_course,
    load_courses,
    load_seed_plan,
    validate_path,
)
from app.content.schema import (
    Assessment,
    CodeAssessment,
    Competency,
    Course,
    Item,
    Module,
    MultipleChoiceAssessment,
    Question,
    Rubric,
    RubricCriterion,
    RubricLevel,
    SeedOrg,
    SeedPlan,
    SeedUser,
    ShortAnswerAssessment,
)

__all__ = [
    "Assessment",
    "CodeAssessment",
    "Competency",
    "ContentError",
    "ContentValidationError",
    "Course",
    "Item",
    "Module",
    "MultipleChoiceAssessment",
    "Question",
    "Rubric",
    "RubricCriterion",
    "RubricLevel",
    "SeedOrg",
    "SeedPlan",
    "SeedUser",
    "ShortAnswerAssessment",
    "course_content_hash",
    "load_course",
    "load_courses",
    "load_seed_plan",
    "validate_path",
]
