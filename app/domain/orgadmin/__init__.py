"""Org administration (issue 17, item 3): invitations, course visibility and enrolments, learners' progress."""
