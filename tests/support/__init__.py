"""Helpers and fixtures shared by more than one test area (registered in tests/conftest.py)."""
