"""The text-normalisation module: names and emails from people (app/lib/text.py)."""

from __future__ import annotations

import pytest

from app.lib.text import TextRejected, check_email, clean_name, is_mixed_script, normalise_email, scripts

CYRILLIC_A = "\u0430"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ada Lovelace", "Ada Lovelace"),
        ("  \uff2a\uff4f\uff48\uff4e\u00a0\u3000 Doe  ", "John Doe"),  # full-width letters, NBSP, ideographic space
        ("Zo\u00eb O'Brien-Smith & Co.", "Zo\u00eb O'Brien-Smith & Co."),
        ("Zoe\u0308", "Zo\u00eb"),  # combining diaeresis composes
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),
        ("\u674e\u5c0f\u9f8d", "\u674e\u5c0f\u9f8d"),
        ("R2-D2", "R2-D2"),
    ],
)
def test_names_are_normalised(raw: str, expected: str) -> None:
    assert clean_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("\u200b\u200b\u200b", "invisible"),  # only zero-width spaces
        ("\u202e\u2066\u2069", "invisible"),  # only bidi controls
        ("\u202eevil.exe", "invisible"),  # a right-to-left override reorders what follows
        ("Ada\u2060Lovelace", "invisible"),  # word joiner
        ("Ada\nLovelace", "invisible"),
        ("Ada\tLovelace", "invisible"),
        ("Ada\x00", "invisible"),
        ("<img src=x onerror=alert(1)>", "'<' or '>'"),
        ("Ada <b>Lovelace</b>", "'<' or '>'"),
        ("   ", "letter or digit"),
        ("\u200d", "joiners"),  # a joiner alone
        ("Ada \u200cLovelace", "joiners"),  # a joiner next to a space
        ("...", "letter or digit"),
        ("\ue000Ada", "invisible"),  # private use
    ],
)
def test_names_refused(raw: str, reason: str) -> None:
    with pytest.raises(TextRejected, match=reason):
        clean_name(raw)


def test_name_length_counts_after_normalisation() -> None:
    assert clean_name("a" * 200) == "a" * 200
    with pytest.raises(TextRejected, match="at most 200"):
        clean_name("\ufdfa" * 20)  # one code point each, eighteen after NFKC


def test_scripts_and_mixing() -> None:
    assert scripts("admin") == {"Latin"}
    assert scripts(f"{CYRILLIC_A}dmin") == {"Latin", "Cyrillic"}
    assert scripts("\u5c71\u7530\u3042\u30a2") == {"Han", "Hiragana", "Katakana"}
    assert is_mixed_script(f"p{CYRILLIC_A}ypal")
    assert not is_mixed_script("\u5c71\u7530\u3042\u30a2abc")  # Japanese with Latin is how people write
    assert not is_mixed_script("\u0438\u0432\u0430\u043d2024")  # digits belong to every script


@pytest.mark.parametrize(
    "email",
    [
        "learner@demo.test",
        "\u0438\u0432\u0430\u043d@example.com",  # a Cyrillic local part on a Latin domain: one script per part
        "\u5c71\u7530@example.jp",
        "\u03b1\u03bb\u03ad\u03be\u03b7\u03c2@example.gr",
    ],
)
def test_emails_in_one_script_per_part_pass(email: str) -> None:
    assert check_email(email).mixed_script == ""


@pytest.mark.parametrize(
    ("email", "why"),
    [
        (f"{CYRILLIC_A}dmin@demo.test", "mixes Cyrillic and Latin"),
        ("admin@dem\u043e.test", "mixes Cyrillic and Latin"),  # a Cyrillic o in the domain
        ("\u0430\u0441\u0435@demo.test", "look Latin"),  # "ace" spelled in Cyrillic beside a Latin domain
    ],
)
def test_mixed_script_emails_are_flagged(email: str, why: str) -> None:
    assert why in check_email(email).mixed_script


def test_emails_normalise_and_refuse_hidden_characters() -> None:
    assert normalise_email("  \uff2c\uff45\uff41\uff52\uff4e\uff45\uff52@Demo.TEST ") == "learner@demo.test"
    for hidden in ("learner\u200b@demo.test", "learner@demo\u202e.test", "lea rner@demo.test", "learner\x00@demo.test"):
        with pytest.raises(TextRejected):
            check_email(hidden)
