"""Mastery: a Bayesian Knowledge Tracing estimate per learner and competency, projected from progress events,
and the competency gates it opens (issue 12 §4-§5). Depends on app/db only; progress, courses, grading and
review call it."""
