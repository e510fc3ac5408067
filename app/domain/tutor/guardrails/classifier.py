"""The learned layer of the input guardrails: a small linear classifier over the learner's message and
the recent conversation, so that paraphrases, other languages, role-play and attacks spread over several
messages are caught where the lexical patterns of ``injection.py`` have no phrase to match.

Features (all computed offline from what the installed wheels ship; nothing is downloaded):

* the `wordllama <https://github.com/dleemiller/WordLlama>`_ static embedding (256 dimensions, the weights
  and tokenizer are inside its wheel) of the message, and of the recent learner turns joined with it;
* hashed character 3-, 4- and 5-grams of the message and of that window (spelling, other scripts,
  ``<|im_start|>``-style delimiters), counted, log-scaled and L2-normalised;
* counts of small hand-written lexicons of attack-intent words in about 25 languages ("ignore",
  "rules", "system prompt", "password", "other students", "grades", "answer", ...) in the message and in
  that window, with products of the groups that together make an attack (see ``_LEXICON_WORDS``).

The text the features read is the message normalised the way ``injection.normalise`` does it (NFKC,
invisible characters dropped, look-alike letters mapped, lower case), followed by its de-l33ted and
de-spaced forms when they differ and by whatever base64 / hex / escaped blobs in it decode to: an attack
written in an encoding reads like the plain attack. That is one normalisation, reused, not a second one.

The model is multinomial logistic regression over five labels (``LABELS``), trained by
``train_classifier.py`` from ``content/guardrails/corpus/train*.yaml`` and saved next to this module as
``classifier_model.npz`` with the SHA-256 of the corpus it was trained on. :func:`classify` returns the
probability that the message is an attack and which kind is most likely; the pipeline compares the
probability with the policy's thresholds. Answer requests only count when the course has graded work.
"""

# The lexicons below are words of other languages, in their own letters (Turkish dotless i, Cyrillic).
# ruff: noqa: RUF001

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.domain.tutor.guardrails.injection import decoded_blobs, deleet, despace, normalise
from app.lib.wordllama import load_wordllama

MODEL_PATH = Path(__file__).with_name("classifier_model.npz")
LABELS = ("benign", "override", "leak", "answer", "data")
ATTACK_LABELS = LABELS[1:]
NGRAMS = (3, 4, 5)
MESSAGE_BUCKETS = 4096  # hashed n-gram features of the message
WINDOW_BUCKETS = 2048  # ... of the recent conversation window
EMBEDDING_DIM = 256
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


# --------------------------------------------------------------------------- attack-intent lexicons

# Small hand-written lexicons of attack-intent words in about twenty-five languages (English, French,
# Spanish, Portuguese, Italian, German, Dutch, Swedish, Polish, Czech, Russian, Ukrainian, Greek, Romanian,
# Turkish, Arabic, Persian, Hebrew, Hindi and romanised Hindi, Indonesian, Vietnamese, Swahili, Chinese,
# Japanese, Korean). Each group is one
# count feature of the message and one of the window, plus a few products of groups (an instruction to
# disregard *and* the word for rules; a reveal verb *and* a secret): the character n-grams of a language
# the corpus has few cases of carry little, while "ignore" + "rules" in any language is the attack. The
# words alone decide nothing; the model weighs them against everything else, trained on benign questions
# that use the same words ("how do I store a password?"). Latin, Cyrillic and Greek entries match at the
# start of a word (stems: "instruc" matches "instructions"); all others anywhere (Arabic, Hebrew and
# Persian attach "and" and "the" to words; Chinese, Japanese and Korean have no spaces). Entries are
# normalised like the text they are matched against.
_LEXICON_WORDS: dict[str, tuple[str, ...]] = {
    "disregard": (
        "put aside", "put them aside", "set them aside", "scrap the", "never loaded", "no longer apply",
        "don't apply", "stop being careful", "ne fais plus attention", "lascia perdere", "metti da parte",
        "mettiti da parte", "non seguire", "no sigas", "não siga", "别再遵守", "不要遵守", "不再遵守", "मत मानो",
        "ignoruj", "zapomeň", "nedodržuj", "puuza", "sahau", "usifuate", "ignoră", "uită", "nu mai respecta",
        "ignore", "ignoring", "disregard", "forget", "set aside", "drop your", "drop all", "abandon", "bypass",
        "override", "suspend", "turn off", "switch off", "disable", "lift your", "no longer follow",
        "stop following", "oublie", "ne tiens plus compte", "fais abstraction", "laisse tomber", "désactive",
        "olvida", "ignora", "omite", "deja de seguir", "desactiva", "salta", "esqueç", "esquece", "desconsider",
        "deixa de", "dimentica", "tralascia", "smetti di seguire", "disattiva", "vergiss", "ignorier", "missacht",
        "hör auf", "deaktivier", "außer kraft", "vergeet", "negeer", "schakel", "glöm", "ignorera", "strunta i",
        "zapomnij", "zignoruj", "pomiń", "wyłącz", "забудь", "игнорируй", "проигнорируй", "не обращай внимания",
        "перестань следовать", "отключи", "ігноруй", "не зважай", "вимкни", "ξέχασε", "αγνόησε", "παράβλεψε",
        "unut", "yok say", "görmezden gel", "boşver", "devre dışı", "تجاهل", "انس", "إنس", "اترك", "لا تلتزم",
        "عطّل", "نادیده بگیر", "فراموش کن", "بی‌خیال", "התעלם", "שכח", "תשכח", "בטל", "भूल जाओ", "भूल जाइए",
        "अनदेखा", "नज़रअंदाज़", "नजरअंदाज", "छोड़ दो", "bhool", "bhul ja", "nazarandaz", "andekha", "chhod do",
        "lupakan", "abaikan", "jangan ikuti", "matikan", "bỏ qua", "quên", "phớt lờ", "忽略", "忽视", "无视",
        "忘掉", "忘记", "不要理会", "别管", "关闭", "無視", "忘れ", "従わな", "解除", "무시", "잊어", "따르지 마",
        "해제",
    ),
    "rules": (
        "pokyny", "pravidla", "omezení", "maagizo", "sheria", "vikwazo", "regulile", "instrucțiuni", "restricți",
        "要求", "terms", "instruction", "rule", "guideline", "guidance", "guardrail", "restriction", "policy",
        "policies", "directive", "constraint", "standing order", "filter", "safety", "consigne", "règle", "regla",
        "instruccion", "instrucción", "norma", "restriccion", "restricción", "regra", "instruç", "restriç",
        "diretriz", "regole", "istruzion", "restrizion", "linee guida", "regel", "anweisung", "vorgabe",
        "richtlinie", "einschränkung", "beschränkung", "instructie", "beperking", "instruktion", "begränsning",
        "zasad", "instrukcj", "ogranicze", "reguł", "правил", "инструкци", "ограничени", "указани", "інструкці",
        "обмежен", "κανόν", "οδηγί", "περιορισμ", "kural", "talimat", "kısıtlama", "yönerge", "القواعد", "قواعد",
        "التعليمات", "تعليمات", "القيود", "قیود", "قوانین", "دستورالعمل", "محدودیت", "כללים", "הכללים", "הוראות",
        "ההוראות", "הגבלות", "नियम", "निर्देश", "प्रतिबंध", "पाबंदी", "niyam", "nirdesh", "aturan", "instruksi",
        "batasan", "pembatasan", "quy tắc", "hướng dẫn", "chỉ dẫn", "giới hạn", "hạn chế", "规则", "规定", "指令",
        "指示", "限制", "设定", "約束", "ルール", "規則", "制限", "設定", "규칙", "지시", "제한", "지침", "설정",
    ),
    "hidden_prompt": (
        "primed with", "briefing", "above my first message", "before i started", "operating instructions",
        "configuraron", "configurado", "开始对话前", "收到的内容", "tumhe jo", "pokyny systému",
        "maagizo ya mfumo", "instrucțiunile de sistem", "system prompt", "system message", "initial prompt",
        "hidden prompt", "your prompt", "your setup", "setup text", "your configuration", "your config",
        "configured with", "were told", "you were given", "pre-prompt", "preprompt", "prompt système",
        "invite système", "instructions initiales", "prompt del sistema", "prompt do sistema",
        "mensaje del sistema", "instrucciones iniciales", "systemprompt", "system-prompt", "systemanweisung",
        "systeeminstructie", "systemprompten", "prompt systemow", "системн", "начальн", "системні",
        "προτροπή συστήματος", "sistem istem", "sistem talimat", "موجه النظام", "تعليمات النظام", "رسالة النظام",
        "پرامپت سیستم", "دستورات سیستم", "הנחיות המערכת", "פרומפט", "सिस्टम प्रॉम्प्ट", "सिस्टम निर्देश",
        "प्रारंभिक", "system nirdesh", "prompt sistem", "instruksi sistem", "lời nhắc hệ thống",
        "chỉ dẫn hệ thống", "系统提示", "系统指令", "系统设定", "初始提示", "提示词", "システムプロンプト",
        "初期設定", "最初の指示", "시스템 프롬프트", "시스템 지시", "초기 지시", "before this conversation",
        "avant cette conversation", "vor diesem gespräch", "antes de esta conversación",
    ),
    "reveal": (
        "copy", "cópiame", "copias", "write out", "spell out", "pull up", "schreib", "напиши", "أرسل", "ارسل",
        "اكتب لي", "लिखकर दो", "贴出来", "原样", "ukaž", "napiš", "nionyeshe", "nipe", "niambie", "arată-mi",
        "dă-mi", "spune-mi", "reveal", "show me", "print", "repeat", "recite", "dump", "paste", "output",
        "disclose", "leak", "share", "send me", "give me", "tell me", "read me", "word for word", "verbatim",
        "exactly as", "in full", "montre", "affiche", "révèle", "donne-moi", "dis-moi", "mot pour mot",
        "muéstrame", "muestra", "revela", "dame", "dime", "palabra por palabra", "mostre", "mostra", "me dá",
        "me diga", "palavra por palavra", "rivela", "dimmi", "dammi", "parola per parola", "zeig", "gib mir",
        "nenn", "verrat", "wörtlich", "wort für wort", "laat zien", "geef me", "woordelijk", "visa", "ge mig",
        "pokaż", "podaj", "ujawnij", "dosłownie", "покажи", "выведи", "раскрой", "скажи", "дай мне", "дословно",
        "слово в слово", "розкажи", "дай", "дослівно", "δείξε", "αποκάλυψε", "πες μου", "göster", "söyle",
        "ver bana", "kelimesi kelimesine", "أظهر", "اعرض", "اكشف", "أعطني", "أخبرني", "حرفيا", "حرفياً",
        "نشان بده", "بگو", "بده", "کلمه به کلمه", "הראה", "תראה", "תגלה", "תן לי", "מילה במילה", "दिखाओ",
        "दिखाइए", "बताओ", "बताइए", "दो", "शब्दशः", "dikhao", "batao", "de do", "tunjukkan", "tampilkan",
        "berikan", "beri tahu", "kasih", "kata demi kata", "cho tôi xem", "cho tôi", "tiết lộ", "nguyên văn",
        "hiển thị", "显示", "展示", "告诉我", "发给我", "给我", "透露", "一字不差", "逐字", "写出来", "見せ",
        "教えて", "出力", "そのまま", "一字一句", "보여", "알려", "출력", "그대로", "공개",
    ),
    "secret": (
        "zugangsdaten", "heslo", "nenosiri", "parola", "parolă", "cheia api", "passphrase", "pem", "password",
        "passwd", "api key", "api token", "secret", "credential", "private key", "signing key", "hmac key",
        "access key", "session token", "auth token", "bearer token", "connection string", ".env",
        "environment variable", "database url", "mot de passe", "clé api", "clé secrète", "identifiants",
        "contraseña", "clave api", "clave secreta", "credencial", "senha", "chave api", "chave secreta",
        "chiave api", "credenziali", "passwort", "kennwort", "api-schlüssel", "wachtwoord", "lösenord", "hasło",
        "klucz api", "пароль", "ключ api", "api-ключ", "токен", "секрет", "учётн", "учетн", "облікові", "κωδικ",
        "κλειδί", "şifre", "api anahtar", "كلمة المرور", "كلمة السر", "مفتاح", "رمز الدخول", "رمز عبور",
        "گذرواژه", "کلید", "סיסמה", "סיסמא", "מפתח", "पासवर्ड", "कुंजी", "चाबी", "kata sandi", "kunci api",
        "mật khẩu", "khóa api", "密码", "密钥", "口令", "令牌", "凭证", "パスワード", "暗証", "秘密鍵", "apiキー",
        "トークン", "비밀번호", "암호", "api 키", "토큰", "키를",
    ),
    "others": (
        "my cohort", "in my group", "medestudent", "ostatních studentů", "spolužák", "wanafunzi wengine",
        "alți studenți", "alte studenți", "shaar hatalmidim", "שאר התלמידים", "other learner", "other student",
        "other user", "another learner", "another student", "another user", "classmate", "everyone else",
        "someone else", "the rest of the class", "other people", "fellow learner", "autres élèves",
        "autres étudiants", "autres apprenants", "camarades", "otros estudiantes", "otros alumnos", "compañeros",
        "outros alunos", "outros estudantes", "colegas", "altri studenti", "compagni", "anderen lernenden",
        "anderen teilnehmer", "mitschüler", "kommiliton", "andere studenten", "klasgenoten", "andra elever",
        "innych uczniów", "innych studentów", "kolegów", "других студентов", "других учеников", "одногруппник",
        "однокурсник", "інших студентів", "інших учнів", "άλλων μαθητών", "συμμαθητ", "diğer öğrenci",
        "sınıf arkadaş", "الطلاب الآخرين", "الطلاب الاخرين", "زملائي", "زملاء", "دانشجویان دیگر", "همکلاسی",
        "תלמידים אחרים", "סטודנטים אחרים", "दूसरे छात्र", "अन्य छात्र", "सहपाठी", "dusre students",
        "doosre students", "baaki students", "siswa lain", "mahasiswa lain", "teman sekelas", "học viên khác",
        "sinh viên khác", "bạn cùng lớp", "其他学生", "其他同学", "别的同学", "其他学员", "他の学生",
        "他の受講生", "ほかの受講者", "他の生徒", "다른 수강생", "다른 학생", "다른 사람",
    ),
    "records": (
        "scored", "results", "last conversation", "behind on", "známky", "alama", "notele", "grade", "marks",
        "score", "submission", "submitted", "email address", "e-mail", "phone number", "transcript",
        "chat history", "conversation history", "tutoring history", "progress", "notes", "notes des",
        "adresses e-mail", "soumission", "calificaciones", "notas de", "correos", "entregas", "notas dos", "voti",
        "consegne", "noten", "e-mail-adressen", "abgaben", "cijfers", "betyg", "ocen", "оценк", "почт", "работы",
        "оцінк", "βαθμ", "notlar", "e-posta", "الدرجات", "درجات", "علامات", "البريد الإلكتروني", "نمرات", "ایمیل",
        "ציונים", "מיילים", "अंक", "ग्रेड", "ईमेल", "nilai", "điểm", "email của", "成绩", "分数", "邮箱", "作业",
        "成績", "点数", "メールアドレス", "提出物", "성적", "점수", "이메일", "제출물",
    ),
    "answer": (
        "odpověď", "řešení", "jibu", "răspuns", "soluți", "参考答案", "answer", "solution", "final code",
        "full code", "complete code", "correct option", "which option", "the right one", "model answer",
        "answer key", "just the letter", "submit", "réponse", "respuesta", "solución", "resposta", "solução",
        "risposta", "soluzione", "antwort", "lösung", "antwoord", "oplossing", "svar", "lösning", "odpowied",
        "rozwiązani", "ответ", "решени", "відповід", "розв'язок", "απάντηση", "λύση", "cevap", "çözüm", "الإجابة",
        "الجواب", "الحل", "جواب", "پاسخ", "תשובה", "פתרון", "उत्तर", "जवाब", "हल", "jawab", "jawaban", "solusi",
        "đáp án", "lời giải", "答案", "解答", "正解", "答え", "정답", "답", "풀이",
    ),
    "hidden_material": (
        "marking scheme", "exemplar", "unseen test", "markers", "skryté testy", "majaribio yaliyofichwa",
        "testele ascunse", "hidden test", "private test", "secret test", "grader", "autograder", "rubric",
        "reference solution", "expected output", "tests cachés", "corrigé", "pruebas ocultas", "tests ocultos",
        "testes ocultos", "gabarito", "test nascosti", "versteckte test", "musterlösung", "verborgen test",
        "dolda test", "ukryte test", "скрытые тест", "приховані тест", "κρυφά τεστ", "gizli test",
        "الاختبارات المخفية", "تست‌های مخفی", "בדיקות נסתרות", "छिपे हुए टेस्ट", "chhupe", "tes tersembunyi",
        "kiểm thử ẩn", "隐藏测试", "隐藏的测试", "评分标准", "隠しテスト", "模範解答", "숨겨진 테스트",
        "채점 기준",
    ),
    "unrestricted": (
        "no limits", "without limits", "no restrictions", "without restrictions", "unrestricted", "uncensored",
        "unfiltered", "no rules", "without rules", "jailbreak", "developer mode", "dan mode", "god mode",
        "sans limites", "sans restriction", "sans aucune", "sin límites", "sin restricciones", "sem restriç",
        "sem limites", "senza limiti", "senza restrizioni", "ohne einschränkung", "ohne grenzen", "ohne regeln",
        "zonder beperking", "utan begränsning", "bez ograniczeń", "без ограничений", "без правил", "без обмежень",
        "χωρίς περιορισμ", "sınırsız", "kısıtlamasız", "بدون قيود", "بلا قيود", "بدون محدودیت", "בלי הגבלות",
        "ללא הגבלות", "बिना किसी", "बिना रोक", "bina kisi", "tanpa batas", "tanpa batasan", "không giới hạn",
        "không hạn chế", "没有限制", "不受限制", "无限制", "不受任何", "制限なし", "制限のない", "제한 없이",
        "제한이 없는",
    ),
    "persona": (
        "you are now", "from now on", "pretend", "act as", "act like", "role-play", "roleplay", "play the role",
        "simulate", "in character", "à partir de maintenant", "fais semblant", "joue le rôle",
        "a partir de ahora", "finge", "actúa como", "a partir de agora", "aja como", "finja", "d'ora in poi",
        "fingi", "ab jetzt", "tu so, als", "spiel die rolle", "vanaf nu", "doe alsof", "från och med nu",
        "od teraz", "udawaj", "с этого момента", "притворись", "веди себя как", "відтепер", "прикинься",
        "από τώρα", "προσποιήσου", "bundan sonra", "gibi davran", "من الآن", "تظاهر", "از این به بعد",
        "وانمود کن", "מעכשיו", "תעמיד פנים", "अब से", "नाटक करो", "ab se", "mulai sekarang", "berpura-pura",
        "từ bây giờ", "giả vờ", "从现在起", "从现在开始", "假装", "扮演", "今から", "ふりをし", "演じ",
        "지금부터", "척해", "역할",
    ),
    "continuation": (
        "continue", "keep going", "go on", "the rest", "next part", "next line", "part two", "line two",
        "the next one", "and the next", "do it", "as agreed", "like i said", "you promised", "the code word",
        "the password i gave", "suite", "sigue", "continúa", "continua", "weiter", "verder", "dalej", "продолжай",
        "дальше", "продовжуй", "συνέχισε", "devam et", "تابع", "ادامه بده", "המשך", "जारी रखो", "आगे",
        "lanjutkan", "tiếp tục", "继续", "続けて", "계속",
    ),
}  # fmt: skip
# Products of groups that together are the attack, whichever language each word was in.
_LEXICON_PAIRS = (
    ("disregard", "rules"),
    ("reveal", "rules"),
    ("reveal", "hidden_prompt"),
    ("reveal", "secret"),
    ("others", "records"),
    ("reveal", "others"),
    ("reveal", "hidden_material"),
    ("reveal", "answer"),
    ("persona", "unrestricted"),
    ("disregard", "unrestricted"),
)
LEXICON_GROUPS = tuple(_LEXICON_WORDS)
LEXICON_FEATURES = len(LEXICON_GROUPS) + len(_LEXICON_PAIRS)


def _trie_pattern(words: Sequence[str]) -> str:
    """One regular expression for many literal words, factored by common prefixes (a character trie), so
    a position is rejected after a character or two instead of after trying every word."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # the end of a word

    def pattern(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 and not ends else "(?:" + "|".join(branches) + ")"
        # Greedy: the longest word that matches here, as an alternation of the words longest first would.
        return body + "?" if ends else body

    return pattern(trie)


def _lexicon_pattern(words: Sequence[str]) -> re.Pattern[str]:
    forms = {normalise(w).flat for w in words if w.strip()}
    # Latin, Cyrillic and Greek at the start of a word; Arabic, Hebrew and Persian attach "and" and "the"
    # to a word, and Chinese, Japanese and Korean have no spaces, so those anywhere.
    at_start = [w for w in forms if ord(w[0]) < 0x0590]
    anywhere = [w for w in forms if ord(w[0]) >= 0x0590]
    parts = [rf"(?<!\w){_trie_pattern(at_start)}"] if at_start else []
    parts += [_trie_pattern(anywhere)] if anywhere else []
    return re.compile("|".join(parts).replace(r"\ ", r"\s+"))


_LEXICON_PATTERNS = tuple(_lexicon_pattern(_LEXICON_WORDS[group]) for group in LEXICON_GROUPS)
_PAIR_INDEX = tuple((LEXICON_GROUPS.index(a), LEXICON_GROUPS.index(b)) for a, b in _LEXICON_PAIRS)


@functools.lru_cache(maxsize=1024)
def lexicon_counts(read: str) -> Vector:
    """Log-scaled counts of each lexicon group in ``read`` (a :func:`feature_text`), then the products of
    the paired groups. Callers must not modify the result (cached)."""
    counts = np.array([len(p.findall(read)) for p in _LEXICON_PATTERNS], dtype=np.float32)
    np.log1p(counts, out=counts)
    pairs = np.array([counts[a] * counts[b] for a, b in _PAIR_INDEX], dtype=np.float32)
    return np.concatenate([counts, pairs])


# The layout of a feature vector: both embeddings, both n-gram blocks, both lexicon blocks.
FEATURES = 2 * EMBEDDING_DIM + MESSAGE_BUCKETS + WINDOW_BUCKETS + 2 * LEXICON_FEATURES
_GRAMS = 2 * EMBEDDING_DIM
_LEX = _GRAMS + MESSAGE_BUCKETS + WINDOW_BUCKETS


_LOAD_LOCK = threading.Lock()  # the background warm-up and a first turn must not load twice


def _embedder() -> Any:
    with _LOAD_LOCK:
        return _load_embedder()


@functools.cache
def _load_embedder() -> Any:
    """The wordllama model from the files inside its wheel; never a download (app/lib/wordllama.py)."""
    return load_wordllama()


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
    for row, (message, window) in enumerate(zip(messages, windows, strict=True)):
        out[row, :EMBEDDING_DIM] = embedded[message]
        out[row, EMBEDDING_DIM:_GRAMS] = embedded[window]
        out[row, _GRAMS : _GRAMS + MESSAGE_BUCKETS] = ngrams(message, MESSAGE_BUCKETS)
        out[row, _GRAMS + MESSAGE_BUCKETS : _LEX] = ngrams(window, WINDOW_BUCKETS)
        out[row, _LEX : _LEX + LEXICON_FEATURES] = lexicon_counts(message)
        out[row, _LEX + LEXICON_FEATURES :] = lexicon_counts(window)
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
def _message_part(text: str) -> tuple[Vector, Vector, Vector, Vector]:
    """The features of the message itself (its embedding, its n-grams in message and in window buckets):
    the same whether it is read alone or with earlier turns. Cached, so :func:`prepare` can compute them
    while the turn waits for its database lookup, off the critical path. Callers must not modify them."""
    read = feature_text(text)
    grams = _ngram_counts(read, MESSAGE_BUCKETS), _ngram_counts(read, WINDOW_BUCKETS)
    return _embed([read])[0], *grams, lexicon_counts(read)


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
    embedding, grams, grams_as_window, lexicon = _message_part(text)
    rows = np.zeros((2 if has_history else 1, FEATURES), dtype=np.float32)
    rows[:, :EMBEDDING_DIM] = embedding
    rows[:, _GRAMS : _GRAMS + MESSAGE_BUCKETS] = grams
    rows[:, _LEX : _LEX + LEXICON_FEATURES] = lexicon
    rows[0, EMBEDDING_DIM:_GRAMS] = embedding  # alone, the message is its own window
    rows[0, _GRAMS + MESSAGE_BUCKETS : _LEX] = grams_as_window
    rows[0, _LEX + LEXICON_FEATURES :] = lexicon
    if has_history:
        window = feature_text(window_text(text, recent, turns))
        rows[1, EMBEDDING_DIM:_GRAMS] = _embed([window])[0]
        rows[1, _GRAMS + MESSAGE_BUCKETS : _LEX] = _ngram_counts(window, WINDOW_BUCKETS)
        rows[1, _LEX + LEXICON_FEATURES :] = lexicon_counts(window)
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
    "LEXICON_FEATURES",
    "LEXICON_GROUPS",
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
    "lexicon_counts",
    "prepare",
    "score_probabilities",
    "shipped_model",
    "warm_up",
    "warm_up_in_background",
    "window_text",
]
