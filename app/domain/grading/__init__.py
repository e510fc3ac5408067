"""Assessments, submissions and AI grading (SAQ jobs) with confidence routing to human review."""
