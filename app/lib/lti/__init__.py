"""LTI 1.3 toolkit: pure protocol code (claims, id_token checks, keys, deep-linking JWTs, the guarded
HTTP client towards platforms). No database; the domain (``app/domain/lti``) stores and orchestrates."""
