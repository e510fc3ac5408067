"""Guardrail policies: YAML files in ``content/policies/`` that non-engineers edit, validated with msgspec.

``default.yaml`` is the platform policy. An organisation may add ``<org-slug>.yaml``; such a file is an
*override*: it is laid over the policy named by its ``extends`` key (``default`` when the key is absent),
so it only needs the settings it changes. Mappings merge key by key; a list replaces the inherited list.

Errors follow the course loader's style: the file, the path inside the document (``input.pii.redact[1]``,
``$`` for the root), the reason and, when known, the line. :class:`PolicyStore` re-reads a file when its
modification time changes and keeps serving the last good policy when an edited file is invalid.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import msgspec
import structlog

from app.lib.yamlspec import Document, Spec, SpecError, convert, parent, parse, report_problems

log = structlog.get_logger("lyceum.guardrails")

DEFAULT_POLICY = "default"
POLICY_SUFFIX = ".yaml"
MAX_EXTENDS_DEPTH = 5
# Same shape as an org slug; also what keeps `get("../secrets")` from escaping the directory.
POLICY_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")

PiiKind = Literal[
    "email", "phone", "address", "government_id", "card", "iban", "ip_address", "date_of_birth", "person_name"
]
PII_KINDS: tuple[PiiKind, ...] = get_args(PiiKind)
TopicCategory = Literal[
    "cooking",
    "sports",
    "dating",
    "entertainment",
    "other_subjects",
    "creative_writing",
    "personal_advice",
    "travel_shopping",
    "everyday_life",
]
TOPIC_CATEGORIES: tuple[TopicCategory, ...] = get_args(TopicCategory)

Fraction = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Text = Annotated[str, msgspec.Meta(min_length=1)]
Term = Annotated[str, msgspec.Meta(min_length=2, max_length=200)]


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Keyword-only, immutable, unknown keys rejected (a typo is an error, not a silently ignored setting)."""


class InjectionWeights(_Strict, frozen=True):
    """How much each family of prompt-injection signal adds to the score (0 switches a family off)."""

    role_override: Fraction = 0.7
    exfiltration: Fraction = 0.7
    delimiter: Fraction = 0.6
    encoded_payload: Fraction = 0.65
    obfuscation: Fraction = 0.3
    hidden_instruction: Fraction = 0.65
    authority_claim: Fraction = 0.4
    answer_extraction: Fraction = 0.3
    data_exfiltration: Fraction = 0.7
    self_reference: Fraction = 0.6

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in self.__struct_fields__}


class InjectionPolicy(_Strict, frozen=True):
    enabled: bool = True
    block_threshold: Fraction = 0.6
    flag_threshold: Fraction = 0.3
    weights: InjectionWeights = InjectionWeights()


class ClassifierPolicy(_Strict, frozen=True):
    """The learned classifier over the message and the recent conversation (``classifier.py``)."""

    enabled: bool = True
    block_threshold: Fraction = 0.5
    flag_threshold: Fraction = 0.3
    history_turns: Annotated[int, msgspec.Meta(ge=0, le=10)] = 3


class ModelCheckPolicy(_Strict, frozen=True):
    """The model-based check that runs beside the reply when a model key is set (``model_check.py``)."""

    enabled: bool = True
    max_wait_ms: Annotated[int, msgspec.Meta(ge=100, le=10_000)] = 2000
    on_timeout: Literal["allow", "block"] = "allow"


class PiiPolicy(_Strict, frozen=True):
    redact: tuple[PiiKind, ...] = PII_KINDS
    block: tuple[PiiKind, ...] = ()


class InputPolicy(_Strict, frozen=True):
    max_chars: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 4000
    injection: InjectionPolicy = InjectionPolicy()
    classifier: ClassifierPolicy = ClassifierPolicy()
    model_check: ModelCheckPolicy = ModelCheckPolicy()
    pii: PiiPolicy = PiiPolicy()


class TopicPolicy(_Strict, frozen=True):
    enforce: bool = True
    off_topic_action: Literal["block", "flag"] = "block"
    categories: tuple[TopicCategory, ...] = TOPIC_CATEGORIES
    allowed_extra: tuple[Term, ...] = ()
    denied: tuple[Term, ...] = ()


class AnswerLeakPolicy(_Strict, frozen=True):
    enabled: bool = True
    min_overlap_chars: Annotated[int, msgspec.Meta(ge=20, le=400)] = 60
    similarity_threshold: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)] = 0.4


class OutputPolicy(_Strict, frozen=True):
    answer_leak: AnswerLeakPolicy = AnswerLeakPolicy()
    pii_redact: tuple[PiiKind, ...] = PII_KINDS
    pii_block: tuple[PiiKind, ...] = ()
    blocked_terms: tuple[Term, ...] = ()


class Messages(_Strict, frozen=True):
    """Learner-facing explanations, one per reason a message or reply can be stopped."""

    budget: Text = "You have used this period's tutoring allowance. It resets soon, and your progress is saved."
    injection: Text = (
        "That message looks like an attempt to change how the tutor works, so it was not sent. "
        "Ask your question about the course material in your own words."
    )
    off_topic: Text = "The tutor can only help with this course. Try asking about the lesson or exercise you are on."
    answer_leak: Text = (
        "The tutor stopped because the reply was about to give away the answer to graded work. "
        "Ask for a hint or explain your thinking and it will guide you."
    )
    answer_request: Text = (
        "This is graded work, so the tutor will not give you the answer, but it will help you get there. "
        "Tell it what you have tried so far or which step is unclear."
    )
    data_request: Text = (
        "The tutor cannot share passwords, API keys or other secrets of the platform, or anything about other "
        "learners (their names, e-mail addresses, answers or grades). Ask about the course material instead."
    )
    pii: Text = "Please remove personal details such as card or ID numbers and send your question again."
    pii_output: Text = (
        "The tutor stopped this reply because it contained personal details that cannot be shown here. "
        "Ask again and it will answer without them."
    )
    length: Text = "That message is too long ({length} characters; the limit is {max_chars}). Shorten it and try again."
    blocked_term: Text = "The tutor stopped this reply because it broke your organisation's content rules."


class GuardrailPolicy(_Strict, frozen=True):
    version: Literal[1] = 1
    description: str = ""
    extends: str | None = None
    input: InputPolicy = InputPolicy()
    topics: TopicPolicy = TopicPolicy()
    output: OutputPolicy = OutputPolicy()
    messages: Messages = Messages()


BUILTIN_POLICY = GuardrailPolicy(description="built-in fallback, used only when no policy file has ever loaded")


# =========================================================================== errors


# One problem in a policy file (``line`` is 1-based when known); the shared loader's error type.
PolicyError = SpecError


class PolicyValidationError(Exception):
    def __init__(self, errors: Sequence[PolicyError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


# =========================================================================== parsing


def _parse(path: Path) -> tuple[Document | None, list[PolicyError]]:
    document, errors = parse(path)
    if document is not None and not isinstance(document.data, dict):
        kind = type(document.data).__name__
        return None, [document.error("$", f"a policy must be a mapping of settings, not a {kind}")]
    return document, errors


# =========================================================================== extends chain and merging


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else (lists included) in the override replaces the base value."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _parent_name(document: Document, own_name: str) -> tuple[str | None, PolicyError | None]:
    """The policy this one is laid over: ``extends`` if given, ``default`` for org files, none for default."""
    raw = document.data.get("extends")
    if raw is None:
        return (None if own_name == DEFAULT_POLICY else DEFAULT_POLICY), None
    line = document.line_for("extends")
    if own_name == DEFAULT_POLICY:
        return None, PolicyError(document.file, "extends", "the default policy cannot extend another policy", line)
    if not isinstance(raw, str) or not POLICY_NAME.match(raw):
        reason = f"{raw!r} is not a policy name (the file name without .yaml, e.g. `default`)"
        return None, PolicyError(document.file, "extends", reason, line)
    return raw, None


def _chain(path: Path) -> tuple[list[Document], list[PolicyError]]:
    """The file and every policy it extends, most specific first."""
    documents: list[Document] = []
    seen: set[str] = set()
    current: Path | None = path
    while current is not None:
        name = current.name.removesuffix(POLICY_SUFFIX)
        if name in seen or len(documents) > MAX_EXTENDS_DEPTH:
            chain = " -> ".join([*(Path(d.file).stem for d in documents), name])
            reason = f"`extends` loops or nests too deep: {chain}"
            return documents, [PolicyError(documents[-1].file, "extends", reason, documents[-1].line_for("extends"))]
        seen.add(name)
        document, errors = _parse(current)
        if document is None:
            return documents, errors
        documents.append(document)
        parent, error = _parent_name(document, name)
        if error is not None:
            return documents, [error]
        current = current.with_name(parent + POLICY_SUFFIX) if parent else None
    return documents, []


def _locate(documents: Sequence[Document], path: str) -> tuple[str, int | None]:
    """Blame the most specific file that sets ``path`` (or a parent of it) for a problem found after merging."""
    probe = path
    while True:
        for document in documents:
            if document.has(probe):
                return document.file, document.line_for(probe)
        if probe == "$":
            return documents[0].file, documents[0].line_for("$")
        probe = parent(probe)


# =========================================================================== decoding and rules

_SPEC = Spec(
    noun="setting",
    allowed="allowed here:",
    choices={
        "redact": PII_KINDS,
        "block": PII_KINDS,
        "pii_redact": PII_KINDS,
        "pii_block": PII_KINDS,
        "categories": TOPIC_CATEGORIES,
        "off_topic_action": ("block", "flag"),
        "on_timeout": ("allow", "block"),
    },
)


def _decode(documents: Sequence[Document], merged: dict[str, Any]) -> tuple[GuardrailPolicy | None, list[PolicyError]]:
    policy, problem = convert(merged, GuardrailPolicy, _SPEC)
    if problem is None:
        return policy, []
    path, reason = problem
    file, line = _locate(documents, path)
    return None, [PolicyError(file, path, reason, line)]


def _rule_problems(policy: GuardrailPolicy) -> Iterator[tuple[str, str]]:
    """Rules across fields that the types alone cannot express."""
    for name, check in (("injection", policy.input.injection), ("classifier", policy.input.classifier)):
        if check.flag_threshold > check.block_threshold:
            yield (
                f"input.{name}.flag_threshold",
                f"flag_threshold ({check.flag_threshold}) must not be above block_threshold "
                f"({check.block_threshold}); a message is flagged before it is blocked",
            )
    for key in ("redact", "block"):
        yield from _duplicate_problems(f"input.pii.{key}", getattr(policy.input.pii, key))
    for key in ("pii_redact", "pii_block"):
        yield from _duplicate_problems(f"output.{key}", getattr(policy.output, key))
    for key in ("allowed_extra", "denied", "categories"):
        yield from _duplicate_problems(f"topics.{key}", getattr(policy.topics, key))
    yield from _duplicate_problems("output.blocked_terms", policy.output.blocked_terms)
    for index, term in enumerate(policy.output.blocked_terms):
        if not term.strip():
            yield f"output.blocked_terms[{index}]", "a blocked term must contain more than spaces"
    try:
        policy.messages.length.format_map({"length": 0, "max_chars": 0})
    except (KeyError, ValueError, IndexError) as exc:
        yield "messages.length", f"only the placeholders {{length}} and {{max_chars}} may be used ({exc})"


def _duplicate_problems(path: str, values: Sequence[str]) -> Iterator[tuple[str, str]]:
    seen: set[str] = set()
    for index, value in enumerate(values):
        key = value.strip().lower()
        if key in seen:
            yield f"{path}[{index}]", f"{value!r} is listed twice"
        seen.add(key)


def _load(path: Path) -> tuple[GuardrailPolicy | None, list[PolicyError], tuple[Path, ...]]:
    """Decode ``path`` over its ``extends`` chain; also returns the chain's files (to watch for changes)."""
    documents, errors = _chain(path)
    files = tuple(Path(d.file) for d in documents)
    if errors:
        return None, errors, files or (path,)
    merged: dict[str, Any] = {}
    for document in reversed(documents):
        merged = _merge(merged, document.data)
    merged.pop("extends", None)
    policy, errors = _decode(documents, merged)
    if policy is None:
        return None, errors, files
    problems = []
    for rule_path, reason in _rule_problems(policy):
        file, line = _locate(documents, rule_path)
        problems.append(PolicyError(file, rule_path, reason, line))
    return (None if problems else policy), problems, files


def load_policy_file(path: Path) -> GuardrailPolicy:
    """The policy in ``path`` (laid over what it extends); raises :class:`PolicyValidationError`."""
    policy, errors, _ = _load(path)
    if policy is None:
        raise PolicyValidationError(errors)
    return policy


def validate_policy_file(path: Path) -> list[PolicyError]:
    """Every problem found in ``path`` and the policies it extends; empty when the file is valid."""
    return _load(path)[1]


# =========================================================================== store with hot reload

_Signature = tuple[tuple[str, int, int], ...]


def _signature(files: Sequence[Path]) -> _Signature:
    parts = []
    for file in files:
        try:
            stat = file.stat()
            parts.append((str(file), stat.st_mtime_ns, stat.st_size))
        except OSError:
            parts.append((str(file), -1, -1))
    return tuple(parts)


@dataclass
class _Entry:
    files: tuple[Path, ...]
    signature: _Signature
    policy: GuardrailPolicy | None
    errors: list[PolicyError]


class PolicyStore:
    """Serves the policy of an organisation, re-reading files whose modification time (or size) changed.

    An edit takes effect on the next message. An invalid edit is logged once and the last good version of
    that policy keeps being served; an org whose file never loaded falls back to ``default``; if even the
    default never loaded, the built-in policy (the same values as the shipped ``default.yaml``) applies.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._entries: dict[str, _Entry] = {}

    def get(self, org_slug: str | None = None) -> GuardrailPolicy:
        name = self._name_for(org_slug)
        policy = self._refresh(name).policy
        if policy is None and name != DEFAULT_POLICY:
            policy = self._refresh(DEFAULT_POLICY).policy
        return policy or BUILTIN_POLICY

    def problems(self, org_slug: str | None = None) -> list[PolicyError]:
        """Errors of the most recent load attempt of the policy that ``get(org_slug)`` reads (empty when fine)."""
        name = self._name_for(org_slug)
        return list(self._refresh(name).errors)

    def _name_for(self, org_slug: str | None) -> str:
        valid = bool(org_slug and org_slug != DEFAULT_POLICY and POLICY_NAME.match(org_slug))
        if valid and (self.directory / f"{org_slug}{POLICY_SUFFIX}").is_file():
            return str(org_slug)
        return DEFAULT_POLICY

    def _refresh(self, name: str) -> _Entry:
        entry = self._entries.get(name)
        files = entry.files if entry else (self.directory / f"{name}{POLICY_SUFFIX}",)
        signature = _signature(files)
        if entry is not None and entry.signature == signature:
            return entry
        policy, errors, files = _load(self.directory / f"{name}{POLICY_SUFFIX}")
        signature = _signature(files)  # the chain may have changed with the edit
        if policy is None:
            previous = entry.policy if entry else None
            log.error(
                "guardrail_policy_invalid",
                policy=name,
                keeping="last good version" if previous else "fallback",
                errors=[str(error) for error in errors],
            )
            entry = _Entry(files, signature, previous, errors)
        else:
            if entry is not None:
                log.info("guardrail_policy_reloaded", policy=name)
            entry = _Entry(files, signature, policy, [])
        self._entries[name] = entry
        return entry


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m app.domain.tutor.guardrails.policy FILE...``: print every problem; exit 1 if there is one."""
    paths = list(sys.argv[1:] if argv is None else argv) or ["content/policies"]
    files = [f for raw in paths for f in (sorted(Path(raw).glob("*.yaml")) if Path(raw).is_dir() else [Path(raw)])]
    return report_problems([error for file in files for error in validate_policy_file(file)], files)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "BUILTIN_POLICY",
    "PII_KINDS",
    "TOPIC_CATEGORIES",
    "AnswerLeakPolicy",
    "ClassifierPolicy",
    "GuardrailPolicy",
    "InjectionPolicy",
    "InjectionWeights",
    "InputPolicy",
    "Messages",
    "ModelCheckPolicy",
    "OutputPolicy",
    "PiiKind",
    "PiiPolicy",
    "PolicyError",
    "PolicyStore",
    "PolicyValidationError",
    "TopicCategory",
    "TopicPolicy",
    "load_policy_file",
    "main",
    "validate_policy_file",
]
