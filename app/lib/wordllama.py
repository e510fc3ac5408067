"""The wordllama static embedding model, loaded from the files inside its wheel (never a download).

`wordllama <https://github.com/dleemiller/WordLlama>`_ ships its 256-dimension weights and tokenizer in the
wheel and needs numpy only. The guardrail classifier (app/domain/tutor/guardrails/classifier.py) and the
content index (app/domain/search/embedding.py) both load it through :func:`load_wordllama`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def load_wordllama(trunc_dim: int | None = None) -> Any:
    """A fresh model from the wheel's own directory; ``trunc_dim`` keeps only the first dimensions
    (the model is trained Matryoshka-style, so a prefix is itself an embedding)."""
    # Short texts per call: the Rust tokenizer's thread pool costs more than it saves (measured), and it
    # would warn after the worker process forks.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import wordllama  # imported on first use: the CLI and policy checker never pay for it
    from wordllama import WordLlama

    # The default lookup misses the tokenizer bundled with the wheel; its own directory has both.
    return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True, trunc_dim=trunc_dim)
