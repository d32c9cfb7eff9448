"""The catalogues: the same keys in Korean and English, with the same
placeholders, and the language chosen as the streamer expects."""

from __future__ import annotations

import string

import pytest

from actors.i18n import LANGUAGES, catalogue, console_language, page_language, text


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_key_is_in_every_language_with_the_same_placeholders():
    english = catalogue("en")
    for language in LANGUAGES:
        other = catalogue(language)
        assert set(other) == set(english), (language, set(english) ^ set(other))
        for key, template in english.items():
            assert _placeholders(other[key]) == _placeholders(template), (language, key)
            assert other[key].strip(), (language, key)


def test_a_text_fills_its_placeholders():
    assert text("cockpit.dropped", "en", n=2) == "dropped 2 message(s)"
    assert text("cockpit.dropped", "ko", n=2) == "메시지 2개를 뺐습니다"


@pytest.mark.parametrize(
    ("setting", "accept", "asked", "expected"),
    [
        ("auto", "ko-KR,ko;q=0.9,en-US;q=0.8", None, "ko"),
        ("auto", "en-US,en;q=0.9", None, "en"),
        ("auto", "fr-FR, ko;q=0.5", None, "ko"),  # the first we have
        ("auto", None, None, "en"),
        ("ko", "en-US", None, "ko"),  # the setting wins over the browser
        ("ko", "en-US", "en", "en"),  # and ?lang= over both
        ("en", None, "xx", "en"),  # an unknown ?lang= is ignored
    ],
)
def test_a_page_speaks_the_language_asked_for(setting, accept, asked, expected):
    assert page_language(setting, accept, asked) == expected


def test_the_console_follows_the_locale_unless_told():
    assert console_language("auto", {"LANG": "ko_KR.UTF-8"}) == "ko"
    assert console_language("auto", {"LC_ALL": "C.UTF-8", "LANG": "ko_KR.UTF-8"}) == "en"  # LC_ALL first
    assert console_language("auto", {}) == "en"
    assert console_language("ko", {"LANG": "en_US.UTF-8"}) == "ko"
