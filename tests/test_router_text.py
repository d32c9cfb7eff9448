"""Chat text hygiene: properties first, then the cases a streamer would try.

Texts come from `chat_text` (any Unicode, controls and all) and from
`st.text()`; the examples pin the Korean and English behaviour the filters
rely on ("ㅋㅋㅋㅋㅋ" is "ㅋㅋ", "시 발" is "시발", "class" is not "ass").
"""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from actors.router.links import find_links, host_allowed
from actors.router.text import (
    comparison_key,
    graphemes,
    has_run_over,
    is_emoji_only,
    longest_run,
    sanitize,
)
from actors.router.words import BlockedWords, find_blocked_word
from strategies import chat_text

any_text = chat_text | st.text(max_size=40)
caps = st.integers(min_value=1, max_value=30)

# What sanitize promises never to let through.
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ZERO_WIDTH = set("\u200b\u200c\u2060\ufeff\u180e")
EXTENDERS = ("Mn", "Me", "Mc")

# Hand-picked pieces that exercise every clustering rule, mixed with any text.
TRICKY = [
    "e\u0301", "\u0301", "🇰🇷", "🇯", "👨\u200d👩\u200d👧", "👍🏽", "1\ufe0f\u20e3", "\r\n", "\r", "\n",
    "\u1112\u1161\u11ab", "\u1100\u1100", "\u11a8", "가", "각", "ㅋ", "\u200d", "🏴\U000e0067\U000e0062\U000e007f",
    "\u202e", "\u200b", "…", "‼", "\ufe0f", "a", " ", "ß", "ﬁ", "Ａ", "\u3164", "ำ", "ﾞ", "ｶ",
]  # fmt: skip
tricky_text = st.lists(st.sampled_from(TRICKY) | chat_text, max_size=8).map("".join)


# ---- graphemes ----------------------------------------------------------------------------


@given(tricky_text | any_text)
def test_graphemes_cover_the_text_exactly(text: str) -> None:
    clusters = graphemes(text)
    assert "".join(clusters) == text
    assert all(clusters)


@given(tricky_text | any_text)
def test_no_cluster_starts_with_a_mark_that_had_a_base(text: str) -> None:
    # A combining mark, selector or skin tone starts a cluster only at the
    # start of the text or after a control, where there is nothing to attach to.
    clusters = graphemes(text)
    for before, cluster in itertools.pairwise(clusters):
        first = cluster[0]
        if unicodedata.category(first) in EXTENDERS or "\U0001f3fb" <= first <= "\U0001f3ff" or first in "ำຳﾞﾟ":
            assert before in ("\r", "\n", "\r\n") or unicodedata.category(before) == "Cc"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("e\u0301t\u00e9", ["e\u0301", "t", "\u00e9"]),
        ("🇰🇷🇯🇵🇺", ["🇰🇷", "🇯🇵", "🇺"]),
        ("👨\u200d👩\u200d👧!", ["👨\u200d👩\u200d👧", "!"]),
        ("👍🏽👍", ["👍🏽", "👍"]),
        ("1\ufe0f\u20e3", ["1\ufe0f\u20e3"]),
        ("a\r\nb", ["a", "\r\n", "b"]),
        ("\u1112\u1161\u11ab\u1100\u1173\u11af", ["\u1112\u1161\u11ab", "\u1100\u1173\u11af"]),  # 한글 as jamo
        ("가\u11a8", ["가\u11a8"]),  # LV + T
        ("각\u1161", ["각", "\u1161"]),  # LVT + V do not join
        ("한국어 ㅋㅋ", ["한", "국", "어", " ", "ㅋ", "ㅋ"]),
        ("hello", list("hello")),
        ("0ำ ｶﾞ", ["0ำ", " ", "ｶﾞ"]),  # letters that extend (NFKC makes marks of them)
    ],
)
def test_grapheme_examples(text: str, expected: list[str]) -> None:
    assert graphemes(text) == expected


# ---- sanitize -----------------------------------------------------------------------------


@given(tricky_text | any_text, caps)
def test_sanitize_is_idempotent(text: str, cap: int) -> None:
    once = sanitize(text, max_graphemes=cap)
    assert sanitize(once, max_graphemes=cap) == once


@given(tricky_text | any_text, caps)
def test_sanitize_leaves_nothing_hidden_and_respects_the_cap(text: str, cap: int) -> None:
    clean = sanitize(text, max_graphemes=cap)
    assert len(graphemes(clean)) <= cap
    assert clean == clean.strip()
    assert "  " not in clean
    for i, ch in enumerate(clean):
        assert ch not in BIDI | ZERO_WIDTH
        assert unicodedata.category(ch) not in ("Cc", "Cs")
        if ch == "\u200d":  # only inside an emoji sequence
            assert 0 < i < len(clean) - 1
            assert not clean[i + 1].isalnum()
            assert not clean[i - 1].isalnum()
        elif unicodedata.category(ch) == "Cf":  # a tag, only in a flag sequence
            assert "\U000e0020" <= ch <= "\U000e007f"
            assert "\U0001f3f4" in clean


@given(tricky_text | any_text, caps)
def test_a_capped_text_is_a_prefix_of_the_uncapped_one(text: str, cap: int) -> None:
    full = sanitize(text, max_graphemes=10_000)
    capped = sanitize(text, max_graphemes=cap)
    if capped != full:
        assert capped.endswith("…")
        assert full.startswith(capped[:-1])
        assert len(graphemes(capped)) == len(graphemes(capped[:-1])) + 1


# Words of NFKC-stable letters, digits and Korean, joined by single spaces.
clean_words = st.text(
    alphabet=st.characters(categories=("Lu", "Ll", "Lo", "Nd"), exclude_characters="\u115f\u1160\u3164\uffa0"),
    min_size=1,
    max_size=8,
)
clean_texts = st.lists(
    clean_words | st.sampled_from(["안녕하세요", "ㅋㅋㅋ", "😂", "👨\u200d👩\u200d👧"]), max_size=6
).map(" ".join)


@given(clean_texts)
def test_clean_short_text_is_unchanged(text: str) -> None:
    # clean = NFKC already, but for "ㅋ", which sanitize keeps as typed
    assume(unicodedata.is_normalized("NFKC", text.replace("ㅋ", "")))
    assert sanitize(text, max_graphemes=len(text) + 1) == text


@pytest.mark.parametrize(
    ("text", "cap", "expected"),
    [
        ("hello\u202eworld", 100, "helloworld"),  # a bidi override would flip the log line
        ("line one\r\n\tline two", 100, "line one line two"),
        ("  ｈｅｌｌｏ　ｗｏｒｌｄ  ", 100, "hello world"),  # full-width letters and space
        ("sp\u200bam\u2060 \ufeffok", 100, "spam ok"),
        ("안녕하세요 여러분", 5, "안녕하세…"),
        ("안녕하세요 여러분", 6, "안녕하세요…"),  # the space before the cut goes
        ("ㅋㅋㅋㅋ", 100, "ㅋㅋㅋㅋ"),  # compatibility jamo stay readable
        ("wait…", 100, "wait…"),
        ("👨\u200d👩\u200d👧 family", 100, "👨\u200d👩\u200d👧 family"),
        ("a\u200db", 100, "ab"),  # a hidden joiner between letters
        ("\u3164", 100, ""),  # the Hangul filler posts "blank" messages
        ("abc", 1, "…"),
        ("👍🏽👍🏽👍🏽", 2, "👍🏽…"),  # never cut inside a cluster
    ],
)
def test_sanitize_examples(text: str, cap: int, expected: str) -> None:
    assert sanitize(text, max_graphemes=cap) == expected


def test_sanitize_needs_room_for_the_ellipsis() -> None:
    with pytest.raises(ValueError, match="max_graphemes"):
        sanitize("hi", max_graphemes=0)


# ---- comparison_key -------------------------------------------------------------------------


@given(tricky_text | any_text)
def test_comparison_key_is_idempotent(text: str) -> None:
    key = comparison_key(text)
    assert comparison_key(key) == key


def _swap_ascii_case(text: str) -> str:
    return "".join(ch.swapcase() if ch.isascii() else ch for ch in text)


FULL_WIDTH = {cp: cp + 0xFEE0 for cp in range(0x21, 0x7F)}  # "A" -> "Ａ", "!" -> "！"


@given(tricky_text | any_text, st.data())
def test_comparison_key_ignores_ascii_case_width_and_whitespace(text: str, data: st.DataObject) -> None:
    key = comparison_key(text)
    assert comparison_key(_swap_ascii_case(text)) == key
    assert comparison_key(text.translate(FULL_WIDTH)) == key
    # whitespace of any kind between any two graphemes
    clusters = graphemes(text)
    cuts = data.draw(st.lists(st.integers(0, len(clusters)), max_size=4, unique=True))
    spaced = "".join(
        (data.draw(st.sampled_from([" ", "  ", "\t", "\u3000", "\n"])) if i in cuts else "") + cluster
        for i, cluster in enumerate([*clusters, ""])
    )
    assert comparison_key(spaced) == key


@given(chat_text, st.sampled_from(TRICKY) | chat_text.filter(bool), chat_text, st.integers(3, 12))
def test_a_longer_run_has_the_same_key(before: str, unit: str, after: str, n: int) -> None:
    # A run of a whole grapheme that is already two long: lengthening it changes nothing.
    # (one grapheme once normalised: "ﬁ" is one grapheme, but the key sees "fi")
    assume(len(graphemes(unit)) == len(graphemes(unicodedata.normalize("NFKC", unit))) == 1)
    short, long = before + unit * 2 + after, before + unit * n + after
    assume(graphemes(short) == [*graphemes(before), unit, unit, *graphemes(after)])
    assume(graphemes(long) == [*graphemes(before), *[unit] * n, *graphemes(after)])
    assert comparison_key(long) == comparison_key(short)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("KEKW!!", "kekw"),
        ("ㅋㅋㅋㅋㅋ", "ㅋㅋ"),
        ("ㅋㅋㅋㅋㅋㅋㅋㅋㅠㅠ", "ㅋㅋ ㅠㅠㅠ"),
        ("ﾟ안녕하세요!!!", "안녕 하세요"),
        ("ＬＯＬ", "lol"),
        ("lolllll", "LOLL"),
        ("😂😂😂😂", "😂 😂"),
        ("❤️", "❤"),
        ("👍🏻", "👍"),
        ("🇰🇷🇰🇷🇰🇷", "🇰🇷🇰🇷"),
        ("ᄏᄏᄏ", "ㅋㅋ"),  # conjoining jamo typed directly
    ],
)
def test_same_key(a: str, b: str) -> None:
    assert comparison_key(a) == comparison_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("lol", "loll"), ("ㅋ", "ㅋㅋ"), ("😂", "🙏"), ("hello", "hell0"), ("안녕", "안냥"), ("🇰🇷", "🇯🇵")],
)
def test_different_key(a: str, b: str) -> None:
    assert comparison_key(a) != comparison_key(b)


def test_casefolding_plain_text_needs_no_normalising() -> None:
    # comparison_key skips NFKC for text with no "suspect" character; that is
    # only right if casefolding never makes one (checked for planes 0 and 1).
    from actors.router.text import _NFKC_SUSPECTS

    for cp in range(0x20000):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF or ch.isascii() or _NFKC_SUSPECTS.search(ch):
            continue
        folded = ch.casefold()
        assert not _NFKC_SUSPECTS.search(folded), hex(cp)
        if ch == "…" or "\u3131" <= ch <= "\u318e":  # kept as they are, not NFKC'd
            assert folded == ch
        else:
            assert unicodedata.is_normalized("NFKC", folded), hex(cp)


def test_comparison_key_examples() -> None:
    assert comparison_key("lolllll") == "loll"
    assert comparison_key("!!!!") == ""
    assert comparison_key("Hello, World!") == "helloworld"


# ---- longest_run -----------------------------------------------------------------------------


@given(tricky_text | any_text)
def test_longest_run_is_bounded_by_the_visible_graphemes(text: str) -> None:
    visible = graphemes("".join(text.split()))
    assert 0 <= longest_run(text) <= len(visible)
    assert (longest_run(text) == 0) == (not visible)


@given(
    st.sampled_from(["a", "ㅋ", "😂", "👍🏽", "🇰🇷", "e\u0301", "가"]),
    st.integers(1, 40),
    st.sampled_from(["", " ", "  "]),
)
def test_longest_run_counts_a_run(unit: str, n: int, gap: str) -> None:
    assert longest_run(gap.join([unit] * n)) == n
    assert longest_run(f"x {unit * n} y") == max(n, 1)


@given(
    tricky_text | any_text | st.sampled_from(["ㅋ" * 11, "a" * 10 + " a", "😂" * 12, "e\u0301" * 11]),
    st.integers(0, 12),
)
def test_has_run_over_is_the_longest_run_compared(text: str, limit: int) -> None:
    """The filter's shortcut answers exactly what longest_run would."""
    assert has_run_over(text, limit) == (longest_run(text) > limit)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("aaaa b", 4), ("ㅋㅋㅋㅋㅋ", 5), ("", 0), ("   ", 0), ("abc", 1), ("ㅋㅋ ㅋㅋㅋ", 5), ("😂😂😂!", 3)],
)
def test_longest_run_examples(text: str, expected: int) -> None:
    assert longest_run(text) == expected


# ---- is_emoji_only -----------------------------------------------------------------------------

emoji = st.sampled_from(
    ["😂", "👍🏽", "🇰🇷", "👨\u200d👩\u200d👧", "❤\ufe0f", "1\ufe0f\u20e3", "©", "🏴\U000e0067\U000e007f"]
)
shortcodes = st.from_regex(r":[A-Za-z0-9_-]+:", fullmatch=True) | st.from_regex(  # YouTube, Chzzk
    r"\{:[a-z0-9_]{1,12}:\}", fullmatch=True
)


@given(st.lists(emoji | shortcodes, min_size=1, max_size=6), st.sampled_from(["", " ", "\n"]))
def test_emoji_and_shortcodes_are_emoji_only(parts: list[str], gap: str) -> None:
    assert is_emoji_only(gap + gap.join(parts) + gap)


@given(st.lists(emoji | shortcodes, max_size=4), st.text(alphabet="abc가나ㅋ?!.1", min_size=1, max_size=4))
def test_any_word_makes_it_not_emoji_only(parts: list[str], word: str) -> None:
    parts.insert(len(parts) // 2, word)
    assert not is_emoji_only(" ".join(parts))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("😂😂😂", True),
        (":face-blue-smiling: :_miraHeart:", True),
        ("{:d_47:}{:mira_love:} {:d_47:}", True),  # Chzzk emotes
        ("{:mira_love:}💀", True),
        ("{: d_47:}", False),
        ("🇰🇷 🇯🇵", True),
        ("", False),
        ("   ", False),
        ("lol 😂", False),
        ("ㅋㅋ😂", False),
        ("::", False),
        (":not a code:", False),
        ("😀" * 3000 + "a", False),  # fails fast: no exponential backtracking
    ],
)
def test_emoji_only_examples(text: str, expected: bool) -> None:
    assert is_emoji_only(text) is expected


# ---- links -------------------------------------------------------------------------------------


@given(any_text)
def test_no_dot_no_link(text: str) -> None:
    for dot in (".", "\u3002", "\uff0e", "\uff61"):
        text = text.replace(dot, "")
    assume("dot" not in text.lower())
    assert find_links(text) == []


@given(st.sampled_from(["youtube.com", "bit.ly", "free-robux.example", "chzzk.naver.com"]), chat_text, chat_text)
def test_a_url_is_found_anywhere(host: str, before: str, after: str) -> None:
    assert host in find_links(f"{before} https://{host}/x?y=1 {after}")
    assert host in find_links(f"{before} {host}/abc {after}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://www.YouTube.com/watch?v=1", ["youtube.com"]),
        ("free robux at free-robux.example/x", ["free-robux.example"]),
        ("bit.ly/abc 여기로", ["bit.ly"]),
        ("go to twitch.tv now", ["twitch.tv"]),
        ("join discord.gg!", ["discord.gg"]),
        ("example[.]com", ["example.com"]),
        ("example (dot) com", ["example.com"]),
        ("youtube\u3002com", ["youtube.com"]),
        ("http://user@host.example:8080/x", ["host.example"]),
        ("e.g. 3.5 ok...sure Mr.Kim main.py", []),
        ("email me@gmail.com or @john.doe", []),
        ("I love the polka dot com bubble", []),
        ("http://localhost:8080", []),
    ],
)
def test_link_examples(text: str, expected: list[str]) -> None:
    assert find_links(text) == expected


@given(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\.[a-z]{2,6}){1,2}", fullmatch=True),
    st.from_regex(r"[a-z]{1,6}", fullmatch=True),
)
def test_host_allowed_is_suffix_by_label(domain: str, label: str) -> None:
    assert host_allowed(domain, [domain])
    assert host_allowed(f"{label}.{domain}", ["other.example", domain.upper()])
    assert not host_allowed(f"{domain}.{label}", [domain])
    assert not host_allowed(f"{label}{domain}", [domain])
    assert not host_allowed(domain, [])


def test_host_allowed_examples() -> None:
    allow = ["youtube.com", "youtu.be"]
    assert host_allowed("m.youtube.com", allow)
    assert host_allowed("youtu.be", allow)
    assert not host_allowed("youtube.com.evil.example", allow)
    assert not host_allowed("notyoutube.com", allow)
    assert not host_allowed("evil.example", ["", " "])


# ---- blocked words ---------------------------------------------------------------------------

hangul_syllables = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
separators = st.text(alphabet=" .,!-_1９\u200b\u200c\u2060\ufeff😂~", max_size=3)


@given(st.text(alphabet=hangul_syllables, min_size=1, max_size=4), st.data())
def test_a_hangul_word_is_found_through_separators(word: str, data: st.DataObject) -> None:
    spelled = word[0] + "".join(data.draw(separators) + letter for letter in word[1:])
    text = data.draw(chat_text) + " " + spelled + " " + data.draw(chat_text)
    blocked = BlockedWords(["spam", word])
    assert blocked.find(text) is not None
    assert blocked.find(sanitize(text, max_graphemes=1000)) is not None


@given(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.data())
def test_a_latin_word_is_found_whole_or_spelled_out(word: str, data: st.DataObject) -> None:
    # Zero-width characters vanish (as if never typed), so each gap needs a visible separator.
    seps = st.tuples(st.sampled_from(" .-_*1/"), st.sampled_from(["", "\u200b", " "])).map("".join)
    spelled = word[0] + "".join(data.draw(seps) + letter for letter in word[1:])
    blocked = BlockedWords([word])
    assert blocked.find(f"oh {word.upper()}!") == word
    assert blocked.find(f"oh {spelled} ok") == word
    assert blocked.find(sanitize(f"oh {spelled} ok", max_graphemes=100)) == word


# Two disjoint pools: blocked words use one, texts the other.
POOL = "abcdefghijklmnopqrstuvwxyz가나다라마바사아자차카타파하시발새끼병신놈년"


@given(st.data())
def test_text_without_blocked_letters_is_never_flagged(data: st.DataObject) -> None:
    word_letters = data.draw(st.sets(st.sampled_from(POOL), min_size=1, max_size=len(POOL) - 1))
    other = sorted(set(POOL) - word_letters)
    words = data.draw(st.lists(st.text(alphabet=sorted(word_letters), min_size=1, max_size=5), min_size=1, max_size=5))
    text = data.draw(
        st.text(alphabet=[*other, *(c.upper() for c in other), " ", ".", "1", "\u200b", "😂"], max_size=40)
    )
    assert BlockedWords(words).find(text) is None
    assert find_blocked_word(text, words) is None


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("시발", "시발"),
        ("아 시 발 진짜", "시발"),
        ("시1발", "시발"),
        ("시\u200b발", "시발"),
        ("시발놈아", "시발"),  # particles and suffixes attach in Korean
        ("ㅅ ㅂ", "ㅅㅂ"),
        ("s.p.a.m", "spam"),
        ("S P A M", "spam"),
        ("Spam!", "spam"),
        ("ｓｐａｍ", "spam"),
        ("sp\u200bam", "spam"),
        ("you ass", "ass"),
        ("18", "18"),
        ("class", None),
        ("assassin's creed", None),
        ("spammer", None),
        ("2018년", None),
        ("안녕하세요", None),
        ("", None),
    ],
)
def test_blocked_word_examples(text: str, found: str | None) -> None:
    words = ["시발", "ㅅㅂ", "spam", "ass", "18"]
    assert find_blocked_word(text, words) == found
    assert BlockedWords(words).find(text) == found


def test_empty_and_blank_words_block_nothing() -> None:
    assert BlockedWords([]).find("anything") is None
    assert BlockedWords(["", "  ", "\u200b", "\ufeff "]).find("anything at all ...") is None
