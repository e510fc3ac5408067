"""Spaced review (issue 12 §7): FSRS schedules per learner x competency, opened when an assessment passes."""
