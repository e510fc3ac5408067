"""Recommendations: the next best steps in a course (``GET /v1/courses/{id}/next``) and items related by
meaning (``GET /v1/items/{id}/related``), both on top of the content index of ``app/domain/search``."""
