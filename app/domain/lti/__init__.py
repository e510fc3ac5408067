"""LTI 1.3 Advantage tool (docs/lti.md): registrations, launches, deep linking, grade passback, rosters."""
