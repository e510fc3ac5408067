"""Code that runs INSIDE the code sandbox, in the two processes of one grading run.

This package is mounted read-only into each sandbox and imported there as the top-level package ``guest``,
so it must use only the standard library and relative imports (nothing from ``app``):

- ``learner``: runs the learner's ``submission.py`` and answers requests about it;
- ``harness``: runs the hidden tests, which see the submission only through the bridge;
- ``bridge``: the message protocol between the two (plain data by value, everything else by reference);
- ``pytest_shim``: the small ``pytest`` stand-in the hidden tests import.

See docs/decisions/0007-code-sandbox.md.
"""
