"""Instructor review: the live review feed (feed.py, controllers.py) and the review queue."""
