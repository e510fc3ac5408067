"""Experiments (issue 17 item 2): tutor prompt variants and hint policies, rolled out by user."""
