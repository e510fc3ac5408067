"""The learned layer of the input guardrails: a small linear classifier over the learner's message and
the recent conversation, so that paraphrases, other languages, role-play and attacks spread over several
messages are caught where the lexical patterns of ``injection.py`` have no phrase to match.

Features (all computed offline from what the installed wheels ship; nothing is downloaded):

* the `wordllama <https://github.com/dleemiller/WordLlama>`_ static embedding (256 dimensions, the weights
  and tokenizer are inside its wheel) of the message, and of the recent learner turns joined with it;
* hashed character 3-, 4- and 5-grams of the message and of that window (spelling, other scripts,
  ``<|im_start|>``-style delimiters), counted, log-scaled and L2-normalised.

The text the features read is the message normalised the way ``injection.normalise`` does it (NFKC,
invisible characters dropped, look-alike letters mapped, lower case), followed by its de-l33ted and
de-spaced forms when they differ and by whatever base64 / hex / escaped blobs in it decode to: an attack
written in an encoding reads like the plain attack. That is one normalisation, reused, not a second one.

The model is multinomial logistic regression over five labels (``LABELS``), trained by
``train_classifier.py`` from ``content/guardrails/corpus/train.yaml`` and saved next to this module as
``classifier_model.npz`` with the SHA-256 of the corpus it was trained on. :func:`classify` returns the
probability that the message is an attack and which kind is most likely; the pipeline compares the
probability with the policy's thresholds. Answer requests only count when the course has graded work.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.domain.tutor.guardrails.injection import decoded_blobs, deleet, despace, normalise

MODEL_PATH = Path(__file__).with_name("classifier_model.npz")
LABELS = ("benign", "override", "leak", "answer", "data")
ATTACK_LABELS = LABELS[1:]
NGRAMS = (3, 4, 5)
MESSAGE_BUCKETS = 4096  # hashed n-gram features of the message
WINDOW_BUCKETS = 2048  # ... of the recent conversation window
EMBEDDING_DIM = 256
FEATURES = 2 * EMBEDDING_DIM + MESSAGE_BUCKETS + WINDOW_BUCKETS
HISTORY_TURNS = 3  # earlier learner turns read with the message (the policy may ask for fewer)
MAX_FEATURE_CHARS = 2000  # longer texts: the head and the tail (an attack hides at either end)
# A message of fewer words and characters (after decoding), read without earlier turns, carries too little
# evidence to block on: "no", "x" or a code word. It can still be flagged; read with earlier turns it is
# judged normally. Characters count too (a CJK character as two): Chinese, Japanese and Korean sentences
# have few or no spaces between words.
MIN_BLOCK_WORDS = 3
MIN_BLOCK_CHARS = 16
# Multiplier of the polynomial rolling hash (odd, so multiplication is a bijection modulo 2**64).
_HASH_BASE = np.uint64(1_000_003)
_HASH_MIX = np.uint64(0x9E3779B97F4A7C15)

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Classification:
    """``score``: probability that the message (read with the recent turns) tries to override the tutor,
    leak its prompt or hidden material, or get secrets or other learners' data; this is what may block.
    ``flag_score`` adds the probability of a request for a graded answer, where there is graded work:
    like the lexical ``answer_extraction`` family, such a request alone is only flagged, because the
    output filter stops an actual leak and blocking would also refuse ordinary coding requests."""

    score: float
    flag_score: float
    label: str  # most likely attack label (``override``, ``leak``, ``answer``, ``data``)
    probabilities: dict[str, float]


@functools.lru_cache(maxsize=1024)  # texts of at most ~6 000 characters: a few MiB at most
def feature_text(text: str) -> str:
    """What the features read: the normalised message plus its de-obfuscated and decoded forms.

    Cached: a turn reads its message several times (alone, the short-message gate)."""
    if len(text) > MAX_FEATURE_CHARS:
        half = MAX_FEATURE_CHARS // 2
        text = f"{text[:half]}\n{text[-half:]}"
    norm = normalise(text)
    parts = [norm.flat]
    for variant in (deleet(norm.flat), despace(norm.original.lower())):
        if variant != norm.flat and variant not in parts:
            parts.append(variant)
    parts += [normalise(decoded).flat for _, decoded in decoded_blobs(norm.original)[:4]]
    return " \n ".join(parts)


def _ngram_counts(text: str, buckets: int) -> Vector:
    """Hashed character n-gram counts, log-scaled and L2-normalised (a stable hash, unlike ``hash()``).

    The hash of an n-gram starting at i is ``n * B**n + sum(c[i + o] * B**(n - 1 - o))`` modulo 2**64; the
    sum for n is the one for n - 1 times B plus the next character, so each length costs two array ops."""
    counts = np.zeros(buckets, dtype=np.float32)
    codes = np.frombuffer(f" {text} ".encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    size = len(codes)
    with np.errstate(over="ignore"):  # the hash is meant to wrap modulo 2**64
        prefix = np.zeros(size, dtype=np.uint64)
        for n in range(1, max(NGRAMS) + 1):
            if size < n:
                break
            prefix = prefix[: size - n + 1] * _HASH_BASE + codes[n - 1 :]
            if n in NGRAMS:
                hashed = prefix + np.uint64(n) * _HASH_BASE ** np.uint64(n)
                index = ((hashed * _HASH_MIX) >> np.uint64(40)) % np.uint64(buckets)
                counts += np.bincount(index.astype(np.int64), minlength=buckets).astype(np.float32)
    np.log1p(counts, out=counts)
    norm = float(np.linalg.norm(counts))
    return counts / norm if norm else counts


_LOAD_LOCK = threading.Lock()  # the background warm-up and a first turn must not load twice


def _embedder() -> Any:
    with _LOAD_LOCK:
        return _load_embedder()


@functools.cache
def _load_embedder() -> Any:
    """The wordllama model from the files inside its wheel; never a download (``disable_download``)."""
    # Two short texts per turn: the Rust tokenizer's thread pool costs more than it saves (measured), and
    # it would warn after the worker process forks.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import wordllama  # imported on first use: the CLI and policy checker never pay for it
    from wordllama import WordLlama

    # The default lookup misses the tokenizer bundled with the wheel; its own directory has both.
    return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


_EMBED_LOCK = threading.Lock()  # the tokenizer is shared; the API calls this from one loop, tests from threads


def _embed(texts: list[str]) -> npt.NDArray[np.float32]:
    model = _embedder()
    with _EMBED_LOCK, np.errstate(invalid="ignore"):
        vectors = model.embed(texts, norm=True)
    out: npt.NDArray[np.float32] = np.asarray(vectors, dtype=np.float32).reshape(len(texts), EMBEDDING_DIM)
    # A text with no known token (only invisible characters, say) has a zero vector, normalised to NaN.
    return np.nan_to_num(out, copy=False)


def window_text(text: str, recent: Sequence[str], turns: int = HISTORY_TURNS) -> str:
    earlier = [t for t in recent[-turns:] if t.strip()] if turns > 0 else []
    return " \n ".join([*earlier, text])


def features(text: str, recent: Sequence[str] = (), turns: int = HISTORY_TURNS) -> Vector:
    """The feature vector of one message read with up to ``turns`` earlier learner messages."""
    row: Vector = features_batch([(text, tuple(recent))], turns)[0]
    return row


def features_batch(cases: Sequence[tuple[str, Sequence[str]]], turns: int = HISTORY_TURNS) -> npt.NDArray[np.float32]:
    messages = [feature_text(text) for text, _ in cases]
    windows = [
        feature_text(window_text(text, recent, turns)) if recent and turns > 0 else message
        for (text, recent), message in zip(cases, messages, strict=True)
    ]
    # Each distinct text is embedded and hashed once: a message read alone and with its window shares
    # the message's part, and a message without history is its own window.
    distinct = list(dict.fromkeys([*messages, *windows]))
    embedded = dict(zip(distinct, _embed(distinct), strict=True))
    grams: dict[tuple[str, int], Vector] = {}

    def ngrams(text: str, buckets: int) -> Vector:
        key = (text, buckets)
        if key not in grams:
            grams[key] = _ngram_counts(text, buckets)
        return grams[key]

    out = np.zeros((len(cases), FEATURES), dtype=np.float32)
    start = 2 * EMBEDDING_DIM
    for row, (message, window) in enumerate(zip(messages, windows, strict=True)):
        out[row, :EMBEDDING_DIM] = embedded[message]
        out[row, EMBEDDING_DIM:start] = embedded[window]
        out[row, start : start + MESSAGE_BUCKETS] = ngrams(message, MESSAGE_BUCKETS)
        out[row, start + MESSAGE_BUCKETS :] = ngrams(window, WINDOW_BUCKETS)
    return out


def softmax(logits: npt.NDArray[Any]) -> npt.NDArray[Any]:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ClassifierModel:
    weights: npt.NDArray[np.float32]  # FEATURES x len(LABELS)
    bias: npt.NDArray[np.float32]
    corpus_sha256: str
    metadata: dict[str, float]

    def probabilities(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return softmax(vectors @ self.weights + self.bias).astype(np.float32)

    def save(self, path: Path) -> None:
        keys = sorted(self.metadata)
        np.savez_compressed(
            path,
            weights=self.weights.astype(np.float32),
            bias=self.bias.astype(np.float32),
            corpus_sha256=np.array(self.corpus_sha256),
            labels=np.array(LABELS),
            metadata_keys=np.array(keys),
            metadata_values=np.array([self.metadata[k] for k in keys], dtype=np.float64),
        )

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> ClassifierModel:
        with np.load(path, allow_pickle=False) as data:
            if tuple(str(label) for label in data["labels"]) != LABELS or data["weights"].shape != (
                FEATURES,
                len(LABELS),
            ):
                raise ValueError(f"{path} was trained for other labels or features; retrain it")
            keys = (str(k) for k in data["metadata_keys"])
            metadata = dict(zip(keys, map(float, data["metadata_values"]), strict=True))
            return cls(data["weights"], data["bias"], str(data["corpus_sha256"]), metadata)


def shipped_model() -> ClassifierModel:
    with _LOAD_LOCK:
        return _load_shipped_model()


@functools.cache
def _load_shipped_model() -> ClassifierModel:
    return ClassifierModel.load(MODEL_PATH)


def score_probabilities(probabilities: Sequence[float], *, graded: bool) -> Classification:
    """The scores of one row of probabilities; an answer request counts only where there is graded work."""
    probs = {label: float(p) for label, p in zip(LABELS, probabilities, strict=True)}
    score = sum(probs[label] for label in ATTACK_LABELS if label != "answer")
    flag_score = score + (probs["answer"] if graded else 0.0)
    counted = [label for label in ATTACK_LABELS if graded or label != "answer"]
    label = max(counted, key=lambda name: probs[name])
    return Classification(round(min(1.0, score), 4), round(min(1.0, flag_score), 4), label, probs)


@functools.lru_cache(maxsize=256)
def _message_part(text: str) -> tuple[Vector, Vector, Vector]:
    """The features of the message itself (its embedding, its n-grams in message and in window buckets):
    the same whether it is read alone or with earlier turns. Cached, so :func:`prepare` can compute them
    while the turn waits for its database lookup, off the critical path. Callers must not modify them."""
    read = feature_text(text)
    return _embed([read])[0], _ngram_counts(read, MESSAGE_BUCKETS), _ngram_counts(read, WINDOW_BUCKETS)


def prepare(text: str) -> None:
    """Compute the message's own features now (see :func:`_message_part`); :func:`classify` reuses them."""
    _message_part(text)


def _evidence_chars(text: str) -> int:
    return sum(2 if ord(char) >= 0x2E80 else 1 for char in text if not char.isspace())


def classify(
    text: str,
    recent: Sequence[str] = (),
    *,
    graded: bool = False,
    turns: int = HISTORY_TURNS,
    model: ClassifierModel | None = None,
) -> Classification:
    """Score ``text`` read with the learner's ``recent`` messages (oldest first)."""
    model = model or shipped_model()
    has_history = turns > 0 and any(t.strip() for t in recent[-turns:])
    embedding, grams, grams_as_window = _message_part(text)
    rows = np.zeros((2 if has_history else 1, FEATURES), dtype=np.float32)
    rows[:, :EMBEDDING_DIM] = embedding
    rows[:, 2 * EMBEDDING_DIM : 2 * EMBEDDING_DIM + MESSAGE_BUCKETS] = grams
    rows[0, EMBEDDING_DIM : 2 * EMBEDDING_DIM] = embedding  # alone, the message is its own window
    rows[0, 2 * EMBEDDING_DIM + MESSAGE_BUCKETS :] = grams_as_window
    if has_history:
        window = feature_text(window_text(text, recent, turns))
        rows[1, EMBEDDING_DIM : 2 * EMBEDDING_DIM] = _embed([window])[0]
        rows[1, 2 * EMBEDDING_DIM + MESSAGE_BUCKETS :] = _ngram_counts(window, WINDOW_BUCKETS)
    probabilities = model.probabilities(rows)
    # Read alone and read with the earlier turns; the higher reading counts, so harmless earlier turns can
    # never dilute an attack in the message itself.
    result = max((score_probabilities(row.tolist(), graded=graded) for row in probabilities), key=lambda r: r.score)
    read = feature_text(text)
    if not has_history and len(read.split()) < MIN_BLOCK_WORDS and _evidence_chars(read) < MIN_BLOCK_CHARS:
        # Too little evidence to block on; the flag score keeps it visible to instructors.
        return Classification(0.0, max(result.flag_score, result.score), result.label, result.probabilities)
    return result


def corpus_sha256(paths: Sequence[Path]) -> str:
    """The hash the committed model records: the training files' bytes, in order, with their names."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def warm_up() -> None:
    """Load the embedding and the model now (about 0.2 s) rather than during a learner's first turn."""
    classify("warm up")


def warm_up_in_background() -> threading.Thread:
    """:func:`warm_up` in a daemon thread, so a process's start-up does not wait for it; a turn that
    arrives first waits for the load in progress instead of loading a second copy."""
    thread = threading.Thread(target=warm_up, name="classifier-warm-up", daemon=True)
    thread.start()
    return thread


__all__ = [
    "ATTACK_LABELS",
    "FEATURES",
    "HISTORY_TURNS",
    "LABELS",
    "MIN_BLOCK_CHARS",
    "MIN_BLOCK_WORDS",
    "MODEL_PATH",
    "Classification",
    "ClassifierModel",
    "classify",
    "corpus_sha256",
    "feature_text",
    "features",
    "features_batch",
    "prepare",
    "score_probabilities",
    "shipped_model",
    "warm_up",
    "warm_up_in_background",
    "window_text",
]
