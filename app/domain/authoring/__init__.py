"""Course authoring in the browser (issue 17): drafts, validation, preview, diff and publish."""
