"""Signed webhooks with a transactional outbox (issue 16): docs/webhooks.md."""
