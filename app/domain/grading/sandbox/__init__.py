"""The code sandbox: learners' Python runs against hidden tests behind an operating-system boundary.

``run_code_tests(code, tests, limits, policy)`` is the whole interface; see runner.py for the two-process
design, isolation.py for the boundary, guest/ for what runs inside, and docs/decisions/0007-code-sandbox.md.
"""

from .isolation import SandboxPolicy, SandboxUnavailable, isolation_for, sandbox_policy
from .runner import SandboxLimits, SandboxResult, TestOutcome, run_code_tests

__all__ = [
    "SandboxLimits",
    "SandboxPolicy",
    "SandboxResult",
    "SandboxUnavailable",
    "TestOutcome",
    "isolation_for",
    "run_code_tests",
    "sandbox_policy",
]
