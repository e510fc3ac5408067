"""Data subject rights (issue 18 item 5): per-org transcript retention, erasure of a person, and the owner-only
archival of an organization through the append-only tables (docs/data-handling.md, docs/runbooks/
erasure-and-archival.md)."""
