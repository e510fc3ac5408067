"""Open Badges 3.0 credentials (issue 13): issuer identity and keys, status lists, issuance, revocation,
verification (docs/credentials.md)."""
