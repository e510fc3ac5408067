"""Topic boundaries: is a learner's message about the course?

Two kinds of evidence are weighed. *Course terms*: content words of the message (stop words removed,
light stemming) that belong to the course. Strong ones (1 point) are words of the titles around the
learner, a small built-in software vocabulary, the policy's ``allowed_extra`` and code in the message
(``split()``, ``snake_case``, backticks); weak ones (half a point) are other words of the lesson bodies,
which also contain plenty of everyday English. *Denied topics*: built-in categories (recipes, sports,
dating, homework for other subjects, ...) and the policy's ``denied`` phrases.

A message is off-topic when it hits denied topics and has (almost) no course terms: "a lasagna recipe"
is off-topic, "how would I cache live sports scores?" is a caching question. "Write an essay about X"
is judged by X alone. Learning meta-talk ("I'm stuck", "thanks", "what should I study next") is always
fine. A message with no course term and no denied hit is only *unclear*: the pipeline may flag it, never
block it, because thin course material (a session without an item) would otherwise block real questions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from app.domain.tutor.guardrails.policy import TopicCategory, TopicPolicy
from app.domain.tutor.providers.base import TutorContext
from app.domain.tutor.text import content_words, flatten, stem, stems

Verdict = Literal["on_topic", "unclear", "off_topic"]
OFF_TOPIC_SCORE = 0.7
UNCLEAR_SCORE = 0.5
UNCLEAR_MIN_WORDS = 3  # shorter messages without course words are usually replies like "ok, and then?"

# Code in a message is about programming: calls, dotted names, snake_case, anything in backticks.
_CODE = re.compile(r"`[^`\n]+`|\b[a-z_][a-z0-9_]*\(\)|\b[a-z_]\w*\.[a-z_]\w*\(|\b[a-z]+_[a-z0-9_]+\b")
MAX_CODE_POINTS = 3

# Software vocabulary that counts as course-like in any course of this platform (Lyceum teaches software).
_BUILTIN_TERMS = frozenset(
    """api apis http https rest endpoint server servers client clients database databases sql postgres postgresql
    query queries index indexes cache caching redis queue queues worker workers python function functions class
    classes method methods code coding program programming bug bugs error errors exception exceptions test tests
    testing pytest json yaml token tokens auth authentication authorization password passwords hash hashing
    encryption key keys request requests response responses status header headers latency log logs logging metric
    metrics trace traces tracing deploy deployment docker kubernetes git commit schema table tables column columns
    transaction transactions lock locks thread threads async concurrency retry retries idempotent idempotency event
    events stream streams raft consensus leader replica replicas quorum partition partitions network timeout
    timeouts variable variables loop loops algorithm algorithms complexity performance scalability scale service
    services microservice backend frontend debug debugging compile library libraries framework module modules
    exercise lesson course quiz assessment assignment solution hint syntax string integer list dict tuple regex
    unicode encoding url uri cookie cookies session sessions jwt oauth csrf xss injection vulnerability security
    secret secrets credential credentials tenant tenants rbac role roles permission permissions endpoint memory cpu
    disk storage file files path paths upload uploads linux shell terminal command container cluster node nodes
    replication sharding shard authn authz float numeric decimal integer boolean""".split()  # noqa: SIM905 - a word list reads best as prose
)

_CATEGORY_PATTERNS: dict[TopicCategory, re.Pattern[str]] = {
    "cooking": re.compile(
        r"\b(?:recipes?|lasagn[ae]|spaghetti|carbonara|risotto|pizza dough|sourdough|cupcakes?|brownies|banana bread|"
        r"chocolate chip|marinade|boil(?:ed|ing)? (?:an |some )?eggs?|fried rice|roast (?:chicken|beef|lamb)|"
        r"dinner (?:ideas?|tonight)|meal prep|oven temperature|"
        r"tablespoons?|teaspoons?|guacamole|pancakes?|omelet(?:te)?s?|bake (?:a|some) (?:cake|bread|cookies)|"
        r"cook(?:ing)? (?:dinner|rice|pasta|steak|chicken)|baking (?:soda|powder)|vegan (?:dinner|meals?))\b"
    ),
    "sports": re.compile(
        r"\b(?:football|soccer|basketball|baseball|nba|nfl|nhl|mlb|premier league|champions league|world cup|"
        r"super bowl|cricket|rugby|tennis (?:match|score)|golf|formula 1|olympics|who won (?:the|last)|final score|"
        r"playoffs?|fantasy (?:football|league|team)|touchdown|quarterback|lakers|yankees|real madrid|"
        r"manchester (?:united|city)|arsenal|(?:match|game) (?:last night|tonight|yesterday)|sports? (?:bet|betting))\b"
    ),
    "dating": re.compile(
        r"\b(?:dating|date ideas?|first date|tinder|bumble|girlfriend|boyfriend|crush on|ask (?:her|him|them) out|"
        r"romantic|break(?:ing)? up with|flirt(?:ing)?|love life|relationship advice|pick-?up lines?|valentine'?s?|"
        r"wedding speech|my (?:ex|partner) (?:left|cheated)|text my crush|breakup|broke up|heartbreak|get over (?:him|"
        r"her|them|my ex))\b"
    ),
    "entertainment": re.compile(
        r"\b(?:movies?|films? to watch|tv shows?|netflix|series to (?:watch|binge)|binge-?watch|celebrit(?:y|ies)|"
        r"gossip|song lyrics|lyrics (?:of|to|for)|concert tickets|horoscope|astrology|zodiac|tarot|kardashians?|"
        r"taylor swift|marvel|anime|manga|video games?|fortnite|minecraft|playstation|xbox|game of thrones|"
        r"(?:tell|give) me (?:a|another|some) jokes?|jokes? about|riddles?|novels|books? to read|book "
        r"recommendations?|fantasy (?:books|novels|series)|sci-?fi (?:books|novels)|podcasts? to listen)\b"
    ),
    "other_subjects": re.compile(
        r"\b(?:(?:history|chemistry|biology|physics|calculus|algebra|geometry|trigonometry|literature|geography|"
        r"economics|psychology|philosophy|sociology|spanish|french|german|latin|english|math|maths) (?:homework|"
        r"assignment|essay|exam|test|quiz|class|problem|question|project|paper|lab report|worksheet|teacher)|"
        r"photosynthesis|mitochondria|periodic table|chemical equation|balance (?:this|the) (?:chemical )?equation|"
        r"quadratic (?:equation|formula)|(?:derivative|integral) of|world war|french revolution|industrial "
        r"revolution|roman empire|ancient (?:rome|greece|egypt)|shakespeare|hamlet|macbeth|romeo and juliet|great "
        r"gatsby|to kill a mockingbird|pythagorean theorem|newton'?s (?:laws?|second law)|cell division|dna "
        r"replication|mitosis|meiosis|the cold war|civil war|cell biology|organic chemistry|[a-z]+ (?:empire|dynasty)|"
        r"physics problem|(?:thrown|dropped|launched) at \d+ ?m/s|chemical formula|solve for x)\b"
    ),
    "creative_writing": re.compile(r"\b(?:love (?:letter|poem)|birthday (?:poem|message|card)|wedding toast|eulogy)\b"),
    "personal_advice": re.compile(
        r"\b(?:lose weight|diet plan|workout (?:plan|routine)|my (?:doctor|headache|rash|symptoms)|medical advice|"
        r"diagnos(?:e|is) (?:my|this)|medication|dosage|legal advice|sue (?:my|the)|divorce|tax return|stock tips?|"
        r"which stocks?|invest(?:ing)? in (?:stocks|crypto|bitcoin)|bitcoin price|crypto(?:currency)? to buy|"
        r"lottery numbers|get rich quick|workout|hiit|gym|cardio|fitness|meaning of life|(?:ask|get|"
        r"negotiate)\b[^.?\n]{0,25}\b(?:for )?(?:a )?(?:raise|promotion|salary)|pay rise|symptoms of (?:the )?(?:flu|"
        r"covid|a cold|\w+itis)|flu|fever|covid|"
        r"driving (?:test|lessons?|"
        r"exam)|parallel parking|job interview outfit|"
        r"buy (?:bitcoin|crypto|ethereum|stocks?|shares|gold)|bitcoin|ethereum|dogecoin|cryptocurrenc(?:y|ies))\b"
    ),
    # Everyday nouns no software course is about; words with a technical meaning (cookie, python, java,
    # apple, cat, shell, token) are deliberately absent.
    "everyday_life": re.compile(
        r"\b(?:pizza|toppings?|calories|banana|burgers?|sushi|chocolate|wine|beer|cocktails?|breakfast|lunch|dinner|"
        r"dessert|puppy|puppies|kittens?|my dog|my cat|pets?|hamster|horse riding|president of|prime minister|"
        r"elections?|politics|political party|senator|parliament|capital (?:city )?of|population of|religion|god "
        r"exists?|horoscope|outfit|hairstyle|makeup|fashion|wedding|birthday party|baby names?|name for my|"
        r"garden(?:ing)?"
        r"|plants? (?:care|dying|grow)|houseplants?|grow (?:tomatoes|vegetables|plants)|kitchen|bathroom|plumbing|"
        r"leaking tap|faucet|car insurance|mortgage|rent prices?)\b"
    ),
    "travel_shopping": re.compile(
        r"\b(?:cheap flights?|flights? to|hotels? (?:in|near)|vacation|holiday (?:plans?|destination|ideas?)|things to "
        r"do in|visa for|itinerary|flights?|(?:weekend |day |road )?trip to|travel(?:ling)? to|weather (?:in|today|"
        r"tomorrow|"
        r"forecast|this weekend)|forecast for (?:tomorrow|the "
        r"weekend)|road trip|"
        r"(?:phone|laptop|headphones|tv|car|camera|sneakers|shoes|dress|watch)(?:es|s)? (?:is|are)? ?"
        r"(?:the )?(?:best|good|worth) (?:to )?buy(?:ing)?|(?:buy|purchase|shopping for) (?:a|an|the|new) (?:phone|"
        r"laptop|headphones|tv|car|camera|sneakers|shoes|dress|watch)|(?:best|cheapest) (?:phone|laptop|headphones|tv|"
        r"car|camera)s? (?:to buy|under|for under))\b"
    ),
}

# "Write an essay / a poem about X": the request is judged by X.
_WRITING_REQUEST = re.compile(
    r"\b(?:write|compose|draft|create|give)\s+(?:me\s+)?(?:a|an|my|some)\s+(?:\w+\s+){0,2}?(?:essay|poem|story|"
    r"short story|song|rap|novel|haiku|limerick|speech|cover letter|letter|toast|sonnet|screenplay|blog post|"
    r"article|report)\s+(?:about|on|for|regarding|describing)\s+(?P<subject>[^.?!\n]{2,100})"
)

# Learning meta-talk is always welcome, whatever its words.
_META = re.compile(
    r"^(?:hi|hello|hey|hiya|yo|good (?:morning|afternoon|evening)|thanks?|thank you|thx|ty|cheers|ok(?:ay)?|cool|great|"
    r"got it|makes sense|bye|see you)\b|\bi'?m (?:stuck|lost|confused)\b|\b(?:can|could) you (?:explain|clarify|"
    r"rephrase|simplify|elaborate|go over|walk me through|help me|give me (?:a |an |another )?(?:hint|example|"
    r"analogy))\b|\bexplain (?:it|this|that) (?:again|differently|more simply|like i'?m)\b|\bi (?:don'?t|do not) "
    r"(?:understand|get it|get this|follow)\b|\bwhat should i (?:study|learn|do|read|review|focus on) next\b|"
    r"\bwhere (?:should|do) i (?:start|begin)\b|\b(?:give me a|another) hint\b|\bquiz me\b|\bcheck my (?:understanding"
    r"|answer|reasoning|work|thinking)\b|\bam i (?:right|on the right track|close|wrong)\b|\bsummari[sz]e (?:this|the)"
    r" (?:lesson|module|item|exercise|section)\b|\bwhat does (?:this|that|it) mean\b|\bhow (?:long|much time) "
    r"(?:will|does|should) (?:this|it) take\b|\bwhat(?:'s| is) next\b|\b(?:i'?m|i am) (?:ready|done|back)\b"
)


@dataclass(frozen=True, slots=True)
class TopicResult:
    verdict: Verdict
    score: float  # 0 = clearly about the course ... 1 = clearly off-topic
    denied: tuple[str, ...]  # categories and denied phrases that matched
    course_score: float  # strong course terms + half the weak ones
    content_words: int
    meta: bool

    def detail(self) -> str:
        denied = f"denied: {', '.join(self.denied)}; " if self.denied else ""
        meta = "; meta-talk" if self.meta else ""
        return f"{denied}course terms {self.course_score:g} of {self.content_words} words{meta}"


_BUILTIN_STEMS = stems(_BUILTIN_TERMS)
# Software phrases made of everyday words that a denied category would otherwise read as everyday life:
# "leader election" is Raft, not politics. They are taken out before the denied categories are matched.
_BUILTIN_PHRASES = re.compile(
    r"(?<!\w)(?:(?:leader|raft|master|primary)\s+elections?|elections?\s+(?:timers?|timeouts?|terms?|rounds?)"
    r"|capital\s+(?:letters?|case)|population\s+(?:count|stability|based))(?!\w)"
    # "election" within a few words of Raft's own terms: "win an election in Raft", "Raft's election"
    r"|(?<!\w)elections?(?!\w)(?=.{0,40}(?<!\w)(?:raft|leaders?|candidates?|terms?|votes?|nodes?)(?!\w))"
    r"|(?<!\w)(?:raft|leaders?|candidates?|nodes?)(?!\w).{0,40}?(?<!\w)elections?(?!\w)"
)


@functools.lru_cache(maxsize=256)
def _course_stems(texts: tuple[str, ...]) -> frozenset[str]:
    return stems(w for text in texts for w in content_words(text))


def _titles(context: TutorContext) -> tuple[str, ...]:
    related = (*context.module_items, *context.related)
    return (context.course_title, context.item_title, context.module_title, *(r.title for r in related))


def _bodies(context: TutorContext) -> tuple[str, ...]:
    return (context.item_body, *(r.body for r in (*context.module_items, *context.related)))


def _strong_vocabulary(context: TutorContext, allowed_extra: Collection[str]) -> frozenset[str]:
    extra = stems(w for term in allowed_extra for w in content_words(term))
    return _course_stems(_titles(context)) | _BUILTIN_STEMS | extra


def course_vocabulary(context: TutorContext, allowed_extra: Collection[str] = ()) -> frozenset[str]:
    """Stems of every course word around the learner: titles, bodies, built-in vocabulary (cached per material)."""
    return _strong_vocabulary(context, allowed_extra) | _course_stems(_bodies(context))


def _denied_hits(
    flat: str,
    categories: Collection[TopicCategory],
    denied: Collection[str],
    vocabulary: frozenset[str] = frozenset(),
) -> list[str]:
    hits: list[str] = []
    for category in categories:
        # "recipe" and "recipes" are one piece of evidence, not two
        found = {stem(m.split()[-1]): m for m in _CATEGORY_PATTERNS[category].findall(flat)}
        # A category word the course itself uses is course vocabulary, not an everyday topic: "election"
        # in a course that teaches Raft's leader election, "population" in one about statistics.
        found = {k: m for k, m in found.items() if not _course_words(m, vocabulary)}
        hits += [f"{category}:{m}" for m in found.values()]
    hits += [f"denied:{term}" for term in denied if _phrase(term).search(flat)]
    return hits


def _course_words(match: str, vocabulary: frozenset[str]) -> bool:
    words = content_words(match)
    return bool(words) and all(stem(w) in vocabulary for w in words)


@functools.lru_cache(maxsize=512)
def _phrase(term: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in term.lower().split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


def _course_score(flat: str, words: list[str], context: TutorContext, policy: TopicPolicy) -> float:
    strong_vocabulary = _strong_vocabulary(context, policy.allowed_extra)
    body_vocabulary = _course_stems(_bodies(context))
    strong = weak = 0
    for word in dict.fromkeys(words):
        root = stem(word)
        if root in strong_vocabulary:
            strong += 1
        elif root in body_vocabulary:
            weak += 1
    strong += sum(1 for term in policy.allowed_extra if _phrase(term).search(flat))
    strong += min(MAX_CODE_POINTS, len(_CODE.findall(flat)))
    return strong + weak / 2


def _writing_subject_off_topic(flat: str, vocabulary: frozenset[str]) -> bool:
    match = _WRITING_REQUEST.search(flat)
    if match is None:
        return False
    subject = content_words(match.group("subject"))
    return bool(subject) and not any(stem(w) in vocabulary for w in subject)


def assess_topic(text: str, context: TutorContext, policy: TopicPolicy) -> TopicResult:
    flat = flatten(text)
    words = content_words(flat)
    course_score = _course_score(flat, words, context, policy)
    meta = bool(_META.search(flat))
    vocabulary = course_vocabulary(context, policy.allowed_extra)
    denied = _denied_hits(_BUILTIN_PHRASES.sub(" ", flat), policy.categories, policy.denied, vocabulary)
    if "creative_writing" in policy.categories and _writing_subject_off_topic(flat, vocabulary):
        denied.append("creative_writing:unrelated subject")
        course_score = 0  # the subject decides; "write an essay for my course about cats" is still about cats
    return _decide(tuple(denied), course_score, len(words), meta, _rich(context))


def _rich(context: TutorContext) -> bool:
    return bool(context.item_body or context.module_items or context.related)


def _decide(denied: tuple[str, ...], course_score: float, words: int, meta: bool, rich: bool) -> TopicResult:
    ratio = course_score / max(1, words)
    if denied:
        if course_score < 1.5:  # at most one weak word of course material: everyday words are not enough
            score = 1.0 if len(denied) > 1 else 0.9
        elif len(denied) >= 2 and course_score < 2.5:
            score = 0.8
        elif len(denied) >= 3 and ratio < 0.3:
            score = OFF_TOPIC_SCORE
        else:
            score = 0.3  # denied words used in a course question ("cache the sports scores")
    elif rich and not meta and words >= UNCLEAR_MIN_WORDS and course_score == 0:
        score = UNCLEAR_SCORE
    else:
        score = 0.0
    verdict: Verdict = "off_topic" if score >= OFF_TOPIC_SCORE else "unclear" if score >= UNCLEAR_SCORE else "on_topic"
    return TopicResult(verdict, score, denied, course_score, words, meta)


__all__ = ["TopicResult", "Verdict", "assess_topic", "content_words", "course_vocabulary", "stem"]
