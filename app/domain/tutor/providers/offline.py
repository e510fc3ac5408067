"""The offline tutor: a deterministic, local provider used when no ANTHROPIC_API_KEY is configured.

It never pretends to be a model. Every reply starts with a visible label and is assembled from the
course material in ``request.context`` and the passages retrieved from the course for the message
(``request.sources``, grounding): the material is split into passages (paragraphs with their code
examples, under their Markdown headings), ranked against the learner's message with BM25, and the best
one or two passages are turned into Socratic questions, levelled hints or an explanation quoted from them.

Protected texts (solutions, answer keys) are only used to filter: any sentence sharing a 24-character
window with one of them (also compared case- and whitespace-insensitively) is dropped before the reply is
assembled, code examples are dropped whole, and the finished reply is checked again (falling back to a
reply that quotes nothing), so no long piece of a solution can leak.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import AsyncGenerator, Iterable, Mapping
from dataclasses import dataclass, field

from app.domain.tutor.providers import dialogue
from app.domain.tutor.providers.base import (
    Misconception,
    ModelRequest,
    SourcePassage,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TutorContext,
)
from app.domain.tutor.providers.tokens import estimate_request_tokens, estimate_tokens
from app.domain.tutor.text import RETRIEVAL_STOPWORDS, WindowGuard, retrieval_stem, terms

MODEL_NAME = "offline"
LABEL_LINE = "*Offline tutor — answers are built from the course material, no AI model is used.*"
GRADED_NOTICE = (
    "This is graded work, so I can't give you answers, confirm a solution or write it for you. "
    "I can help you think it through."
)
NO_MATERIAL = (
    "I don't have course material that matches this question, so I can't build an answer from it. "
    "Tell me what you have tried so far and which step feels unclear, "
    "and I'll ask questions to help you narrow it down."
)
WORDS_PER_CHUNK = 3
QUOTE_CHARS = 320  # enough for the gist of a paragraph; the learner re-reads the rest in the course
EXPLAIN_CHARS = 520
CODE_LINES = 14  # "a small example": longer code blocks are cut
# Passages of the item itself rank first for lessons; for tasks (exercises, assessments) the lessons
# around them hold the material to learn from, so the task text weighs less.
# Passages retrieved from the whole course for the message (grounding) weigh nearly like the module's
# lessons: search chose them for this question, but the item and its neighbours are read first. Retrieved
# task text (an exercise, a quiz question: it asks, it does not teach) is used only when no lesson was
# retrieved, and then weighs like the item's own task text.
ORIGIN_WEIGHTS = {"item": 1.0, "task": 0.5, "module": 0.85, "related": 0.75, "retrieved": 0.8, "retrieved_task": 0.4}
TEACHING_KINDS = frozenset({"lesson", "module"})
BM25_K1 = 1.2
BM25_B = 0.75
STAY_RATIO = 0.6  # an item passage scoring at least this share of the best leads the reply
SECOND_PASSAGE_RATIO = 0.5  # a second passage is shown only when it scores at least half the best
RAW_WINDOW = 24  # characters; the spec forbids any 30-character window of protected text
NORMALISED_WINDOW = 24  # non-space characters, case-folded: catches re-wrapped or re-indented copies
SHORT_PROTECTED_MIN = 12  # shorter protected texts (e.g. "PUT") are too common to filter on

# --------------------------------------------------------------------------------------------- text


def _strip_emphasis(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: m.group(1) or m.group(2), text)


def _sentences(line: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z`*\"(])", line.strip()) if s]


def _is_structured(line: str) -> bool:
    """List items and table rows keep their own line; everything else is soft-wrapped prose."""
    return bool(re.match(r"\s*([-*+]\s|\d+[.)]\s|\|)", line))


def _flatten(prose: str) -> list[str]:
    """Prose as logical lines: each paragraph's soft-wrapped lines joined; list items and table rows separate."""
    lines: list[str] = []
    joinable = False
    for raw in prose.splitlines():
        if not raw.strip():
            joinable = False
        elif joinable and not _is_structured(raw):
            lines[-1] = f"{lines[-1]} {raw.strip()}"
        else:
            lines.append(raw.strip())
            joinable = not raw.lstrip().startswith("|")
    return lines


# ----------------------------------------------------------------------------------------- passages


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrievable piece of material: a paragraph (or list) with the code example that follows it."""

    source: str
    section: str
    prose: str
    code: str = ""
    code_lang: str = ""
    origin: str = "item"
    order: int = 0

    @property
    def where(self) -> str:
        return f"**{self.section}** in *{self.source}*" if self.section else f"*{self.source}*"

    @property
    def text(self) -> str:
        return f"{self.section}\n{self.prose}\n{self.code}"


@dataclass
class _Draft:
    section: str
    prose: list[str] = field(default_factory=list)
    code: str = ""
    code_lang: str = ""

    @property
    def open(self) -> bool:
        """Whether the next prose block belongs here: after a lead-in such as "Relationships become
        foreign keys:", or after a code example that only had a lead-in (the paragraph that follows
        usually explains the code)."""
        lead_in = bool(self.prose) and self.prose[-1].rstrip().endswith(":")
        return lead_in if not self.code else all(p.rstrip().endswith(":") for p in self.prose)


_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+#.-]*)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


def _blocks(body: str) -> list[tuple[str, str, str | None]]:
    """(section, text, code language or None for prose) for each blank-line separated block."""
    blocks: list[tuple[str, str, str | None]] = []
    section, lines, fence, lang = "", list[str](), "", ""
    for line in body.splitlines():
        if fence:
            if line.strip().startswith(fence):
                blocks.append((section, "\n".join(lines), lang))
                lines, fence = [], ""
            else:
                lines.append(line)
        elif match := _FENCE.match(line):
            if lines:
                blocks.append((section, "\n".join(lines), None))
            lines, fence, lang = [], match.group(1), match.group(2)
        elif heading := _HEADING.match(line):
            if lines:
                blocks.append((section, "\n".join(lines), None))
            lines, section = [], _strip_emphasis(heading.group(1))
        elif not line.strip():
            if lines:
                blocks.append((section, "\n".join(lines), None))
            lines = []
        else:
            lines.append(line)
    if lines:
        blocks.append((section, "\n".join(lines), lang if fence else None))
    return blocks


def split_passages(source: str, body: str, origin: str = "item", first_order: int = 0) -> list[Passage]:
    drafts: list[_Draft] = []
    for section, text, lang in _blocks(body):
        last = drafts[-1] if drafts else None
        same_section = last is not None and last.section == section
        if lang is not None:
            if last is not None and same_section and not last.code:
                last.code, last.code_lang = text, lang
            else:
                drafts.append(_Draft(section, code=text, code_lang=lang))
        elif last is not None and same_section and last.open:
            last.prose.append(text)
        else:
            drafts.append(_Draft(section, prose=[text]))
    return [
        Passage(source, d.section, "\n\n".join(d.prose), d.code, d.code_lang, origin, first_order + n)
        for n, d in enumerate(drafts)
    ]


def material(context: TutorContext, retrieved: Iterable[SourcePassage] = ()) -> list[Passage]:
    """Every passage of the item, its module's lessons and its prerequisites, in reading order, then the
    passages retrieved from the course for the message (those of an item already read whole are skipped)."""
    passages: list[Passage] = []
    item_origin = "item" if context.item_kind == "lesson" else "task"
    sources = [(context.item_title or context.course_title, context.item_body, item_origin)]
    sources += [(related.title, related.body, "module") for related in context.module_items]
    # A prerequisite that is also a lesson of the module is read once (as the module's).
    seen = {title for title, _, _ in sources}
    retrieved = list(retrieved)
    if any(found.kind in TEACHING_KINDS for found in retrieved):
        # A short quiz question matches a question's words better than any lesson paragraph, but it asks,
        # it does not teach: with a lesson retrieved, task text stays out of the material.
        retrieved = [found for found in retrieved if found.kind in TEACHING_KINDS]
    sources += [(related.title, related.body, "related") for related in context.related if related.title not in seen]
    seen = {title for title, _, _ in sources}
    retrieved = list(retrieved)
    if any(found.kind in TEACHING_KINDS for found in retrieved):
        # A short quiz question matches a question's words better than any lesson paragraph, but it asks,
        # it does not teach: with a lesson retrieved, task text stays out of the material.
        retrieved = [found for found in retrieved if found.kind in TEACHING_KINDS]
    sources += [
        (
            found.title,
            f"## {found.heading}\n\n{found.text}" if found.heading else found.text,
            "retrieved" if found.kind in TEACHING_KINDS else "retrieved_task",
        )
        for found in retrieved
        if found.title not in seen
    ]
    for title, body, origin in sources:
        passages += split_passages(title, body, origin, len(passages))
    return [p for p in passages if p.prose.strip() or p.code.strip()]


# ---------------------------------------------------------------------------------------- retrieval


class Index:
    """Okapi BM25 over the passages of one context (a few dozen passages: built per request, no caching)."""

    def __init__(self, passages: list[Passage]) -> None:
        self.passages = passages
        self._documents = [Counter(terms(p.text)) for p in passages]
        self._lengths = [sum(d.values()) for d in self._documents]
        self._average = (sum(self._lengths) / len(self._lengths) if self._lengths else 0.0) or 1.0
        frequency = Counter(term for document in self._documents for term in document)
        total = len(self._documents)
        self.idf = {t: math.log(1 + (total - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}

    def rank(self, query: Iterable[str] | Mapping[str, float], origins: frozenset[str] | None = None) -> list[Passage]:
        """Passages matching ``query`` (terms, or terms with weights; weighted by origin), best first;
        ties in reading order."""
        # Not a set: a fixed summation order keeps scores bit-identical across runs.
        weights = dict(query) if isinstance(query, Mapping) else dict.fromkeys(query, 1.0)
        scored: list[tuple[float, Passage]] = []
        for passage, counts, length in zip(self.passages, self._documents, self._lengths, strict=True):
            if origins is not None and passage.origin not in origins:
                continue
            score = sum(w * self._term_score(counts.get(t, 0), length, t) for t, w in weights.items())
            if score > 0:
                scored.append((score * ORIGIN_WEIGHTS[passage.origin], passage))
        scored.sort(key=lambda item: (-item[0], item[1].order))
        # Stay on the item: its own passage leads when it matches nearly as well as one from elsewhere.
        own = next((n for n, (score, p) in enumerate(scored) if p.origin == "item"), None)
        if own and scored[own][0] >= STAY_RATIO * scored[0][0]:
            scored.insert(0, scored.pop(own))
        best = scored[:1]
        if len(scored) > 1 and scored[1][0] >= SECOND_PASSAGE_RATIO * scored[0][0]:
            best.append(scored[1])
        return [passage for _, passage in best]

    def _term_score(self, tf: int, length: int, term: str) -> float:
        if not tf:
            return 0.0
        saturation = tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * length / self._average))
        return self.idf[term] * saturation


@dataclass(frozen=True, slots=True)
class Retrieved:
    passages: list[Passage]
    focus: tuple[str, ...]  # the learner's words that matched; empty when the item stood in for the question


# Words that ask for a kind of answer rather than naming a topic ("an example of that", "why does it matter").
REQUEST_WORDS = frozenset(terms("example examples sample illustrate matter matters happen happens stand"))
EARLIER_WEIGHT = 0.6  # the previous question's words, for a follow-up that leans on it
BACKGROUND_WEIGHT = 0.15  # the conversation's earlier words, as a tie-breaker towards the current topic
REFERENT_WEIGHT = 3.0  # "the second one": the term it points at outweighs everything else
EXPANSION_WEIGHT = 0.8  # a near-synonym counts almost as much as the word the learner used
# Everyday words learners use for the material's terms (query expansion): keys are stemmed message terms,
# values are stemmed when used.
EXPANSIONS: dict[str, tuple[str, ...]] = {
    "slower": ("slow", "long", "latency", "duration"),
    "slow": ("long", "latency", "duration"),
    "faster": ("fast", "latency"),
    "live": ("ttl", "expire"),
    "lifetime": ("ttl", "expire"),
    "expiry": ("ttl", "expire"),
    "endpoint": ("resource", "resources", "path", "url"),  # the crude stemmer keeps "resourc" apart
    "url": ("resource", "resources", "path"),
    "revoke": ("revocation", "logout", "delete"),
    "duplicate": ("twice", "idempotent"),
    "secure": ("safe", "security"),
    "hack": ("attack", "attacker"),
}


def conversation_query(request: ModelRequest, state: dialogue.DialogueState, lead: str = "") -> dict[str, float]:
    """Weighted terms for retrieval: the latest message, plus the conversation when the message leans on
    it (a follow-up such as "why does that matter?" or "an example of the second one?"), plus ``lead``
    (a referent or a correction) which outweighs them."""
    latest = request.messages[-1].content if request.messages else ""
    own = [t for t in terms(latest) if t not in REQUEST_WORDS]
    weights: dict[str, float] = {}
    follow_up = dialogue.is_follow_up(latest) or len(own) <= 1
    for age, earlier in enumerate(reversed(state.asked)):
        weight = (EARLIER_WEIGHT if follow_up and age == 0 else BACKGROUND_WEIGHT) / (1 + age)
        for term in terms(earlier):
            if term not in REQUEST_WORDS:
                weights[term] = max(weights.get(term, 0.0), weight)
    for term in own:
        for extra in terms(" ".join(EXPANSIONS.get(term, ()))):  # stemmed like the passages
            weights[extra] = max(weights.get(extra, 0.0), EXPANSION_WEIGHT)
    for term in own:
        weights[term] = max(weights.get(term, 0.0), 1.0)
    for term in terms(lead):
        weights[term] = max(weights.get(term, 0.0), REFERENT_WEIGHT)
    return weights


def retrieve(
    request: ModelRequest, index: Index, state: dialogue.DialogueState | None = None, lead: str = ""
) -> Retrieved | None:
    """The best one or two passages for the learner's latest message, read with the conversation.

    A message like "I'm stuck" has no content words, so the learner's earlier messages and then the
    item itself stand in as the query; for a task (exercise, assessment) that means the lessons most
    like the task, since re-reading the task is not what helps. With nothing to match: the first passage."""
    state = state or dialogue.derive(request.messages, ())
    query = conversation_query(request, state, lead)
    if query and (found := index.rank(query)):
        focus = [t for t, w in query.items() if w >= EXPANSION_WEIGHT]
        return Retrieved(found, tuple(focus))
    context = request.context
    if context is not None:
        lessons = frozenset({"module", "related"}) if context.item_kind != "lesson" else None
        if found := index.rank(terms(f"{context.item_title}\n{context.item_body}"), lessons):
            return Retrieved(found, ())
    return Retrieved(index.passages[:1], ()) if index.passages else None


# ------------------------------------------------------------------------------------------ guard


class ProtectedGuard(WindowGuard):
    """Detects text that shares a long window with a protected text (solution, answer key)."""

    def __init__(self, protected: Iterable[str]) -> None:
        super().__init__(protected, raw=RAW_WINDOW, squashed=NORMALISED_WINDOW, short_min=SHORT_PROTECTED_MIN)

    def keep(self, lines: Iterable[str]) -> list[str]:
        """``lines`` without protected text: a leaking line loses only its leaking sentences."""
        kept = []
        for line in lines:
            if self.leaks(line):
                line = " ".join(s for s in _sentences(line) if not self.leaks(s))
            if line and not self.leaks(line):
                kept.append(line)
        return kept


# ---------------------------------------------------------------------------------------- writing

_MARKED = re.compile(r"\*\*(.+?)\*\*|`([^`\n]{1,30})`")
_READABLE_CODE = re.compile(r"[\w ./-]*[A-Za-z]{2}[\w ./-]*")  # `PUT`, `POST /v1/orders`; not `?a=1&b=2`
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


@dataclass
class _Material:
    """What one reply is built from: the chosen passages, the learner's words, term weights and the guard."""

    passages: list[Passage]
    focus: tuple[str, ...]
    idf: dict[str, float]
    guard: ProtectedGuard
    quote: bool = True  # False: point at the material without citing it (graded work, or a leak fallback)

    @property
    def first(self) -> Passage:
        return self.passages[0]

    @property
    def where(self) -> str:
        return " and ".join(dict.fromkeys(p.where for p in self.passages))

    def relevance(self, text: str) -> float:
        """How much of the learner's question ``text`` covers, weighting rare words higher."""
        shared = sorted(set(terms(text)) & set(self.focus))  # sorted: float sums must not depend on hash order
        return sum(self.idf.get(term, 0.0) for term in shared)

    def key_terms(self, limit: int = 3) -> list[str]:
        """The concepts to ask about: what the author marked (bold before inline code), ordered by how
        close their line is to the question, then the passage's most distinctive words."""
        marked: list[tuple[float, bool, int, str]] = []
        for passage in self.passages:
            for line in _flatten(passage.prose):
                weight = self.relevance(line)
                for bold, code in _MARKED.findall(line):
                    term = (bold or code).strip(" .:;,")
                    if bold or _READABLE_CODE.fullmatch(term):
                        marked.append((-weight, bool(code), len(marked), term))
        ordered = [term for *_, term in sorted(marked)] + self._distinctive_words()
        unique = dict.fromkeys(t for t in ordered if _concept_like(t) and not self.guard.leaks(t))
        return list(unique)[:limit]

    def _distinctive_words(self) -> list[str]:
        words = re.findall(r"[A-Za-z][A-Za-z-]{3,}", " ".join(_strip_emphasis(p.prose) for p in self.passages))
        counts = Counter(w.lower() for w in words if w.lower() not in RETRIEVAL_STOPWORDS)
        focus = set(self.focus)

        def salience(word: str) -> float:
            stem = retrieval_stem(word)
            return counts[word] * self.idf.get(stem, 0.0) * (3.0 if stem in focus else 1.0)

        # Only words the learner used: an arbitrary frequent word ("behave") makes an odd question.
        return sorted((w for w in counts if retrieval_stem(w) in focus), key=lambda w: (-salience(w), w))

    def lines(self, passage: Passage) -> list[str]:
        """The passage's prose as quotable lines, protected text removed."""
        return self.guard.keep(_flatten(passage.prose))

    def sentences(self, passage: Passage) -> list[str]:
        """Statements of the passage (list markers dropped; table rows and questions left out)."""
        return [sentence for _, sentence in self._numbered_sentences(passage)]

    def _numbered_sentences(self, passage: Passage) -> list[tuple[int, str]]:
        prose = [_LIST_MARKER.sub("", line) for line in self.lines(passage) if not line.startswith("|")]
        found = [(n, s) for n, line in enumerate(prose) for s in _sentences(line) if not s.endswith("?")]
        return [(n, s) for n, s in found if not self.guard.leaks(s)]

    def key_sentences(self, passage: Passage, count: int = 1) -> list[str]:
        """The sentence closest to the question (ties: the earliest) and up to ``count - 1`` sentences
        that follow it in the same paragraph or list item, so the idea keeps its context."""
        numbered = self._numbered_sentences(passage)
        if not numbered:
            return []
        best = max(range(len(numbered)), key=lambda i: (self.relevance(numbered[i][1]), -i))
        line = numbered[best][0]
        return [s for n, s in numbered[best : best + count] if n == line]

    def excerpt(self, passage: Passage, limit: int = QUOTE_CHARS) -> list[str]:
        """Lines around the one closest to the question (with its lead-in line), within ``limit`` characters."""
        lines = self.lines(passage)
        if not lines:
            return []
        best = max(range(len(lines)), key=lambda i: (self.relevance(lines[i]), -i))
        if len(lines[best]) > limit:
            # A long paragraph: start at its sentence closest to the question rather than at its top.
            sentences = _sentences(lines[best])
            top = max(range(len(sentences)), key=lambda i: (self.relevance(sentences[i]), -i))
            return [_first_sentences(" ".join(sentences[top:]), limit)]
        start = best - 1 if best and lines[best - 1].rstrip().endswith(":") else best
        return _excerpt(lines[start:], limit)

    def code(self, passage: Passage) -> str:
        """The passage's code example, cut to a small one at a blank line; empty if any of it is protected."""
        lines = passage.code.splitlines()
        if len(lines) > CODE_LINES:
            blank = [n for n, line in enumerate(lines[: CODE_LINES + 1]) if not line.strip()]
            lines = lines[: blank[-1]] if blank and blank[-1] >= 3 else [*lines[:CODE_LINES], "..."]
        if not lines or self.guard.leaks("\n".join(lines)) or any(self.guard.leaks(line) for line in lines):
            return ""
        return f"```{passage.code_lang}\n" + "\n".join(lines) + "\n```"


def _concept_like(term: str) -> bool:
    """Whether a marked phrase names a concept ("cursor pagination", `PUT`) rather than being a rule or a
    fragment ("Plural nouns, no verbs", "Paginate every list.", "not"): fit for "what does X mean?"."""
    if not 1 < len(term) <= 40 or len(term.split()) > 4:
        return False
    if re.search(r"[,;:.!?]", term.rstrip(".")) or term.endswith(".") or not terms(term):
        return False
    return not re.match(r"(?i)(never|always|do|don't|avoid|use|keep|make|reject|bound|parse|deny|fail)\b", term)


def _excerpt(lines: Iterable[str], limit: int = QUOTE_CHARS) -> list[str]:
    """Leading whole lines within ``limit`` characters; a long first line is cut after a sentence."""
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) > limit:
            if not kept:
                kept.append(_first_sentences(line, limit))
            break
        kept.append(line)
        used += len(line)
    return kept


def _first_sentences(line: str, limit: int) -> str:
    sentences = _sentences(line)
    kept = sentences[:1]
    for sentence in sentences[1:]:
        if sum(len(s) + 1 for s in kept) + len(sentence) > limit:
            break
        kept.append(sentence)
    return " ".join(kept)


def _blockquote(lines: Iterable[str]) -> str:
    return "\n".join(f"> {line}" for line in lines)


def _numbered(questions: list[str]) -> str:
    return "\n".join(f"{n}. {q}" for n, q in enumerate(questions, 1))


def _questions(m: _Material) -> list[str]:
    key = m.key_terms()
    first = key[0] if key else "this idea"
    questions = [f"In your own words, what does **{first}** mean here, and why does it matter?"]
    if len(key) > 1:
        questions.append(f"How are **{first}** and **{key[1]}** related?")
    if m.first.code and m.quote:
        questions.append(
            f"Look at the example in that section: which part shows **{first}**, and what would break without it?"
        )
    elif len(key) > 2:
        questions.append(f"What would go wrong if **{key[2]}** were ignored?")
    return questions


def socratic(m: _Material) -> list[str]:
    parts = ["Let's work through this together rather than me handing you an answer."]
    quote = _blockquote(m.excerpt(m.first)) if m.quote else ""
    if quote:
        parts += [f"The part of the material that fits your question best is {m.first.where}:", quote]
    parts.append(_numbered(_questions(m)))
    parts.append(
        f"Re-read {m.where}, then try answering question 1. Tell me what you come up with and we'll go from there."
    )
    return parts


def graded(m: _Material) -> list[str]:
    key = m.key_terms()
    questions = [f"What does the material say about **{term}**?" for term in key[:2]]
    questions.append("Which part of the task does this apply to, and how could you check your own answer against it?")
    return [
        GRADED_NOTICE,
        f"The material that relates to your question is {m.where}. Re-read that material with these questions in mind:",
        _numbered(questions),
        "Work your answer out from there: it's your reasoning that counts.",
    ]


def hint(m: _Material, level: int) -> list[str]:
    """Level 0 says where to look, 1 quotes the key idea, 2 adds what follows it and the example, 3+ is a
    checklist. Never the solution: protected text is filtered out of everything quoted."""
    key = m.key_terms()
    first = key[0] if key else "the main idea"
    sentences = m.key_sentences(m.first, count=3) if m.quote else []
    if level == 0 or not sentences:
        return [
            f"**Hint 1 (where to look):** the idea you need is in {m.first.where}. Focus on **{first}**.",
            f"Ask yourself: how does **{first}** apply to your problem?",
        ]
    if level == 1:
        return [
            f"**Hint 2 (the key idea):** here is the sentence that matters most in {m.first.where}:",
            _blockquote(sentences[:1]),
            "What does that tell you about your next step?",
        ]
    if level == 2:
        return _concrete_hint(m, sentences, first)
    return _checklist_hint(m, key)


def _concrete_hint(m: _Material, sentences: list[str], first: str) -> list[str]:
    parts = [f"**Hint 3 (a concrete step):** start from what {m.first.where} says:", _blockquote(sentences)]
    example = m.code(m.first)
    if example:
        parts += ["The example there shows the pattern; adapt it to your problem rather than copying it:", example]
    parts.append(f"Now write just the first step that uses **{first}**, and show it to me.")
    return parts


def _checklist_hint(m: _Material, key: list[str], number: int = 4) -> list[str]:
    checks = [f"- Does your attempt handle **{term}**?" for term in key]
    if m.quote:
        checks += [
            f"- Check it against: “{s}”" for s in dict.fromkeys(s for p in m.passages for s in m.key_sentences(p))
        ]
    return [
        f"**Hint {number} (checklist):** compare your attempt with the material point by point:",
        "\n".join(checks),
        "That's as far as hints go: I won't write the solution itself. "
        "Share your attempt and I'll ask about the parts that look off.",
    ]


def explain(m: _Material) -> list[str]:
    excerpt = "\n".join(m.excerpt(m.first, EXPLAIN_CHARS)) if m.quote else ""
    if not excerpt:
        return socratic(m)
    parts = [f"Here's the idea as the material explains it, in {m.first.where}:", excerpt]
    sentences = m.sentences(m.first)
    definitions = [(term, _defining(term, sentences)) for term in m.key_terms(2)]
    lines = [f"- **{term}**: {sentence}" for term, sentence in definitions if sentence and sentence not in excerpt]
    if lines:
        parts.append("Key terms:\n" + "\n".join(lines))
    example = m.code(m.first)
    if example:
        parts += ["A small example:", example, "Read it line by line and find where each key term shows up."]
    focus = m.key_terms(1)
    parts.append(
        f"Does that make sense? Try explaining **{focus[0] if focus else 'the idea'}** back to me in one sentence: "
        "it's the quickest way to check you've got it."
    )
    return parts


def _defining(term: str, sentences: list[str]) -> str:
    return next((s for s in sentences if term.lower() in s.lower()), "")


# --------------------------------------------------------------------------------------- provider


def authored_hint(m: _Material, context: TutorContext, level: int) -> list[str]:
    """Hint ``level`` (1-based) of the item's authored ladder; past its end, a checklist from the material;
    without a ladder, the hints built from the material."""
    ladder = [h for h in context.hints if not m.guard.leaks(h)]
    if not ladder:
        return hint(m, level - 1)
    if level > len(ladder):
        return _checklist_hint(m, m.key_terms(), level)
    parts = [f"**Hint {level} of {len(ladder)}:** {ladder[level - 1]}"]
    if level == 1 and m.passages:
        parts.append(f"The material behind it is {m.where}.")
    if level < len(ladder):
        parts.append(
            "Try that step, then tell me what you get. If you're still stuck, say so and I'll give you the next hint."
        )
    else:
        parts.append(
            "That's the last hint before the answer itself, which is yours to work out. "
            "Share your attempt and I'll ask about the parts that look off."
        )
    return parts


def attempt_first(m: _Material) -> list[str]:
    """Hint policy "attempt_first": before the first hint of the conversation, the learner's own attempt."""
    focus = next(iter(m.key_terms(1)), "")
    return [
        f"{dialogue.ATTEMPT_FIRST_LABEL} before I give you a hint, show me what you have tried so far"
        + (f" with **{focus}**" if focus else "")
        + ", even if it is only a first step or a guess.",
        f"The material to look at is {m.where}." if m.passages else "",
        "Tell me where you got stuck, and the next message will bring the first hint.",
    ]


def _hint(m: _Material, context: TutorContext, state: dialogue.DialogueState) -> list[str]:
    """The next hint of the ladder, unless the policy asks for the learner's attempt before the first."""
    if context.hint_policy == "attempt_first" and state.hints_given == 0 and not state.attempt_requested:
        return attempt_first(m)
    return authored_hint(m, context, state.next_hint)


def correct(m: _Material, claim: Misconception, repeated: bool) -> list[str]:
    """A stated misconception: say plainly that it is wrong, give the authored correction, ground it in the
    material, and check the new understanding."""
    opener = "**Not quite.** That's a common mix-up"
    opener += ", and you've come back to it, so let's look at it once more." if repeated else "."
    parts = [opener, claim.correction]
    sentences = m.key_sentences(m.first, count=2) if m.quote else []
    if sentences:
        parts += [f"The material puts it like this, in {m.first.where}:", _blockquote(sentences)]
    parts.append(claim.check or "Can you say in your own words why that is, and what it changes in your answer?")
    return parts


def challenge(claim: Misconception) -> list[str]:
    """Graded work: a stated misconception is questioned, not settled (the authored text is a nudge)."""
    return [
        "Before you build on that idea, test it: I won't confirm or reject answers here, but this is worth "
        "a second look.",
        claim.correction,
    ]


def example(m: _Material, referent: str | None) -> list[str]:
    """A follow-up asking for an example (of "the second one", of "that"): the closest lines and a code
    example from the material, then a question that makes the learner use it."""
    parts = [f"You asked about **{referent}** from my last reply." if referent else ""]
    excerpt = m.excerpt(m.first)
    if excerpt:
        parts += [f"Here it is in {m.first.where}:", _blockquote(excerpt)]
    code = next((c for c in (m.code(p) for p in m.passages) if c), "")
    if code:
        parts += ["An example from the material:", code]
    focus = referent or next(iter(m.key_terms(1)), "the idea")
    parts.append(f"Which part of that shows **{focus}**, and how would it look in your own case?")
    return parts


def compose(request: ModelRequest) -> str:
    """The whole reply for ``request``: deterministic, labelled, and free of protected text."""
    context = request.context or TutorContext(course_title="")
    guard = ProtectedGuard(context.protected)
    index = Index(material(context, request.sources))
    state = dialogue.derive(request.messages, context.misconceptions)
    latest = request.messages[-1].content if request.messages else ""
    claim = dialogue.claimed(context.misconceptions, latest)
    referent = state.referent(latest)
    found = retrieve(request, index, state, lead=claim.correction if claim else referent or "")
    if found is None:
        return _join([GRADED_NOTICE, NO_MATERIAL] if context.graded else [NO_MATERIAL])
    m = _Material(found.passages, found.focus, index.idf, guard, quote=not context.graded)
    turn = _Turn(latest, state, claim, referent)
    reply = _join(_body(m, context, turn))
    if guard.leaks(reply):
        # A window spanning two kept lines can still match: fall back to pointing at the material.
        m.quote = False
        reply = _join(graded(m) if context.graded else socratic(m))
    return reply if not guard.leaks(reply) else _join([NO_MATERIAL])


@dataclass(frozen=True, slots=True)
class _Turn:
    """The latest message read against the conversation."""

    text: str
    state: dialogue.DialogueState
    claim: Misconception | None
    referent: str | None

    @property
    def stuck(self) -> bool:
        return dialogue.is_stuck(self.text)

    @property
    def repeated(self) -> bool:
        return self.claim is not None and self.claim in self.state.claims


def _body(m: _Material, context: TutorContext, turn: _Turn) -> list[str]:
    # Hint mode: every turn but a correction climbs the ladder. Other modes climb it when the learner
    # says they are stuck, so "I still don't get it" gets more help instead of the same questions.
    climbs = turn.claim is None and (context.mode == "hint" or turn.stuck)
    if context.graded:
        parts = [GRADED_NOTICE]
        if turn.claim is not None:
            parts += challenge(turn.claim)
        if climbs:
            parts += _hint(m, context, turn.state)
        return parts + graded(m)[1:]
    if turn.claim is not None:
        return correct(m, turn.claim, turn.repeated)
    if climbs:
        return _hint(m, context, turn.state)
    if turn.referent or dialogue.wants_example(turn.text):
        return example(m, turn.referent)
    if context.mode == "explain":
        return explain(m)
    return socratic(m)


def _join(parts: list[str]) -> str:
    return "\n\n".join([LABEL_LINE, *(p for p in parts if p)])


def _truncate(reply: str, max_tokens: int) -> tuple[str, str]:
    """Honour the reservation's max_tokens like a model would: cut at a word and report it."""
    if max_tokens <= 0 or estimate_tokens(reply) <= max_tokens:
        return reply, "end_turn"
    cut = reply[: max_tokens * 4].rsplit(" ", 1)[0]
    return cut, "max_tokens"


def chunks(text: str, words: int = WORDS_PER_CHUNK) -> list[str]:
    """``text`` in pieces of a few words each (whitespace kept, so the pieces concatenate back to it)."""
    pieces = re.findall(r"\s*\S+", text)
    grouped = ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)]
    tail = text[len("".join(grouped)) :]
    if tail and grouped:
        grouped[-1] += tail
    return grouped or ([text] if text else [])


class OfflineTutorProvider:
    """:class:`~app.domain.tutor.providers.base.ModelProvider` that needs no network and no model."""

    name = "offline"
    label = "Offline tutor (built from course content)"

    def __init__(self, delay_seconds: float = 0.0) -> None:
        self._delay = delay_seconds  # pause between chunks, to demo or benchmark streaming at a fixed rate

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamEvent, None]:
        reply, stop_reason = _truncate(compose(request), request.max_tokens)
        input_tokens = estimate_request_tokens(request)
        yield StreamStart(MODEL_NAME, input_tokens)
        for piece in chunks(reply):
            yield TextDelta(piece)
            await asyncio.sleep(self._delay)  # also a real yield point at 0: the reply is truly streamed
        yield StreamEnd(input_tokens, estimate_tokens(reply), stop_reason)

    async def count_tokens(self, request: ModelRequest) -> int:
        return estimate_request_tokens(request)

    async def aclose(self) -> None:
        return None
