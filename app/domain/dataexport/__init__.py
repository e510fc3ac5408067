"""Personal-data export (issue 18 item 5): a zip of one person's data in one org, built by the worker and
downloaded through an expiring signed link (docs/data-handling.md, "Data subject rights")."""
