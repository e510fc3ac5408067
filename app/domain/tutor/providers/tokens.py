"""A local token estimate, used offline and whenever a provider cannot count for us.

Claude's tokenizer averages roughly four characters of English per token; the estimate errs on the
high side (ceil) so budgets reserved from it are not undercut.
"""

from __future__ import annotations

import math

from app.domain.tutor.providers.base import ModelRequest

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_request_tokens(request: ModelRequest) -> int:
    """Input tokens of a request: the system prompt plus every message."""
    return estimate_tokens(request.system) + sum(estimate_tokens(message.content) for message in request.messages)
