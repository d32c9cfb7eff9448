"""The catalogues: the same keys in Korean and English, with the same
placeholders, and the language chosen as the streamer expects."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.i18n import LANGUAGES, Said, SaidError, catalogue, console_language, page_language, render, says, text


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


# ---- a Said: a text made far from where it is read ------------------------------------

STATUS_KEYS = sorted(k for k in catalogue("en") if k.startswith("status."))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@st.composite
def saids(draw, depth=1):
    """A status with its every placeholder filled: text, numbers, or (once) another status."""
    key = draw(st.sampled_from(STATUS_KEYS))
    params = {}
    for name in sorted(_placeholders(catalogue("en")[key])):
        leaf = st.text(max_size=15) | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
        params[name] = draw(saids(depth - 1) if depth > 0 and draw(st.booleans()) else leaf)
    return Said(key, params)


@given(saids(), st.sampled_from(LANGUAGES))
def test_a_said_renders_the_same_from_its_dict_as_from_itself(said, language):
    # The pages and the console get the dict (through JSON); they must show
    # what the actor meant, in their language.
    assert render(said.to_dict(), language, "fallback") == said.text(language)
    assert str(said) == said.text("en")


@given(JSON, st.sampled_from(LANGUAGES))
def test_a_detail_that_is_not_a_said_shows_the_fallback_and_never_raises(detail, language):
    shown = render(detail, language, "the English text")
    assert isinstance(shown, str)
    if not (isinstance(detail, dict) and detail.get("key") in catalogue("en")):
        assert shown == "the English text"


def test_a_said_error_reads_in_english_and_renders_in_korean():
    error = SaidError(says("status.chzzk_needs_auth", why=says("status.chzzk_not_yet"), url="http://x/chzzk/auth"))
    assert str(error) == "not authorised (Chzzk is not authorised yet): open http://x/chzzk/auth"
    assert (
        render(error.detail, "ko", "") == "연결되지 않았습니다 (치지직 계정이 아직 연결되지 않았습니다): "
        "http://x/chzzk/auth 을 열어 치지직 계정을 연결해 주세요"
    )
    assert str(SaidError("a plain text")) == "a plain text"  # an error nobody translated shows as written
