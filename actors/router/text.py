"""Text hygiene for live chat: what the VTuber reads, and how the router judges it.

Chat is adversarial text. People and bots hide words behind bidi overrides and
zero-width characters, dodge filters with full-width letters, "s.p.a.m" or
"시 발", flood with "ㅋㅋㅋㅋㅋ" in every length, and paste walls of text.
These pure functions answer what the router asks about one message:

- `sanitize`: the text the VTuber and the log see: invisible and control
  characters gone, NFKC, tidy whitespace, capped in what a reader counts as
  characters (grapheme clusters) so an emoji is never cut in half.
- `comparison_key`: one key for "KEKW!!" and "kekw", "ㅋㅋㅋㅋㅋ" and "ㅋㅋ",
  so repeats and floods are recognised.
- `longest_run`, `has_run_over`, `is_emoji_only`: what the spam filters
  measure. Links (`links.py`) and blocked words (`words.py`) live apart.

Standard library only, and no Trio. The router should take a million events
through sanitising, filters and ranking in seconds on one core, so regexes
are compiled at import from Unicode classes built once with `unicodedata`,
plain text (ASCII, precomposed Hangul, emoji without joiners) takes paths
that never loop in Python per character, and the two costly functions keep
a small cache, because chat repeats itself.

Grapheme clusters approximate UAX #29 without a third-party segmenter: a
cluster is one character plus what follows it of combining marks, variation
selectors, skin-tone modifiers and tag characters, and a ZWJ pulls the next
character in whatever it is (UAX #29 joins only pictographs across a ZWJ);
regional indicators pair into flags, CR LF is one cluster, a control stands
alone, and Hangul jamo join per the L/V/T rules. No Prepend or Indic
conjunct rules: those scripts may count a few clusters too many.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import groupby
from operator import and_, eq

# ---- Unicode classes, built once ---------------------------------------------------------


def _ranges(points: Iterable[int]) -> list[tuple[int, int]]:
    """Code points as sorted, inclusive (first, last) ranges."""
    ranges: list[tuple[int, int]] = []
    for point in sorted(set(points)):
        if ranges and point == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], point)
        else:
            ranges.append((point, point))
    return ranges


def _class(code_points: Iterable[int], *, loose: bool = False) -> str:
    """A regex atom matching one of these code points.

    `re` finds a BMP character in a bitmap but then tries the astral ranges
    one by one, for every character not in the bitmap: the hundreds of the
    historic scripts (U+10000-1EFFF) make every search 8x slower on chat
    text. So a `loose` class, for a prefilter that may match too much, fills
    the gaps between astral ranges (never over the emoji block); an exact
    class keeps those ranges behind a guard only such characters pass.
    """
    ranges = _ranges(code_points)
    if loose:
        filled: list[tuple[int, int]] = []
        for first, last in ranges:
            if filled and filled[-1][1] > 0xFFFF and not (filled[-1][1] < 0x1FAFF and first > 0x1F000):
                filled[-1] = (filled[-1][0], last)
            else:
                filled.append((first, last))
        ranges = filled
    historic = [r for r in ranges if 0xFFFF < r[1] < 0x1F000]
    if len(historic) > 12:
        rest = [r for r in ranges if r not in historic]
        return f"(?:[{_class_body(rest)}]|(?=[\\U00010000-\\U0001efff])[{_class_body(historic)}])"
    return f"[{_class_body(ranges)}]"


def _class_body(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


def _points(spans: str) -> list[int]:
    """Code points from hex spans: "A9 2194-21AA" is U+00A9 and U+2194..U+21AA."""
    points: list[int] = []
    for span in spans.split():
        first, _, last = span.partition("-")
        points += range(int(first, 16), int(last or first, 16) + 1)
    return points


_PLANE_14 = range(0xE0000, 0xE1000)


def _scan() -> dict[str, list[int]]:
    """Code points by general category, by its first letter ("P" for all
    punctuation), and those with a decomposition ("decomposable"). Scans only
    where marks, formats, punctuation, symbols and compatibility characters
    live: planes 0, 1 and 14, less big blocks of nothing but letters without
    decompositions or private use (CJK ideographs, Hangul syllables), plus
    the CJK compatibility ideographs of plane 2. About 35 ms, once."""
    found: dict[str, list[int]] = defaultdict(list)
    category, decomposition = unicodedata.category, unicodedata.decomposition
    blocks = (range(0x3400), range(0x4DC0, 0x4E00), range(0xA000, 0xAC00), range(0xF900, 0x20000), _PLANE_14)
    for block in blocks:
        for cp in block:
            found[category(chr(cp))].append(cp)
            if decomposition(chr(cp)):
                found["decomposable"].append(cp)
    for name in [name for name in found if len(name) == 2]:
        found[name[0]] += found[name]
    found["decomposable"] += _points("2F800-2FA1F")
    return found


_CATEGORY = _scan()
_MARK_POINTS = _CATEGORY["M"]

# Extended_Pictographic, approximated by ranges (flags and skin tones included).
_PICTOGRAPHIC_POINTS = _points(
    "1F000-1FAFF 2600-27BF 2B00-2BFF A9 AE 203C 2049 2122 2139 2194-21AA 231A-23FF 24C2 25AA-25FE 2934-2935 3030 303D"
    " 3297 3299"
)
_PICT = _class(_PICTOGRAPHIC_POINTS)
_PICTOGRAPHIC_SET = frozenset(_PICTOGRAPHIC_POINTS)
_SKIN_TONES = _points("1F3FB-1F3FF")
_VARIATION_SELECTORS = _points("FE00-FE0F E0100-E01EF")
_TAGS = _points("E0020-E007F")
_REGIONAL = _points("1F1E6-1F1FF")
_JAMO_L, _JAMO_V, _JAMO_T = (
    _points("1100-115F A960-A97C"),
    _points("1160-11A7 D7B0-D7C6"),
    _points("11A8-11FF D7CB-D7FB"),
)
# Invisible letters (Hangul fillers), used to post messages that look blank.
_FILLERS = _points("115F 1160 3164 FFA0")
_ZWJ = "\u200d"
_ELLIPSIS = "\u2026"
_CONTROL = r"[\x00-\x1f\x7f-\x9f]"

# ---- graphemes -----------------------------------------------------------------------------

# Four letters extend a cluster in UAX #29 too: NFKC turns each into a mark
# (+ letter), so they must never start one (Thai/Lao AM, half-width kana marks).
_EXTEND_POINTS = [*_MARK_POINTS, *_VARIATION_SELECTORS, *_SKIN_TONES, *_TAGS, *_points("0E33 0EB3 FF9E FF9F")]
_EXTEND = _class(_EXTEND_POINTS)
_L, _V, _T = _class(_JAMO_L), _class(_JAMO_V), _class(_JAMO_T)
_LV = _class(range(0xAC00, 0xD7A4, 28))  # a syllable with no final consonant can still take one
# (?=...) first: most characters are not Hangul and should not try the rules
_HANGUL = (
    rf"(?=[\u1100-\u11ff\ua960-\ua97f\uac00-\ud7ff])(?:{_L}*(?:{_V}+|{_LV}{_V}*|[\uac00-\ud7a3]){_T}*|{_L}+|{_T}+)"
)
_CLUSTER = re.compile(
    rf"\r\n|{_CONTROL}|(?:{_class(_REGIONAL)}{{2}}|{_HANGUL}|.)(?:{_EXTEND}|{_ZWJ}(?!{_CONTROL}).?)*",
    re.DOTALL,
)
# Without any of these, every character is its own cluster: the fast path
# (loose: a false alarm only costs the slow path).
_JOINING = re.compile(_class([*_EXTEND_POINTS, 0x200D, 0x0D, *_REGIONAL, *_JAMO_L, *_JAMO_V, *_JAMO_T], loose=True))


def graphemes(text: str) -> list[str]:
    """Split into (approximate) extended grapheme clusters; see the module doc."""
    if not _JOINING.search(text):
        return list(text)
    return _CLUSTER.findall(text)


# ---- sanitize --------------------------------------------------------------------------------

# Removed first: formats (bidi controls, zero-width characters, soft
# hyphens...) except ZWJ and tags, which are judged in context, and the Hangul
# fillers. Controls, newlines and tabs included, become spaces so words on two
# lines stay two words. A lone surrogate (from a JSON "\ud83d" escape) would
# crash any UTF-8 writer.
_INVISIBLE_TABLE: dict[int, str | None] = {
    **{cp: None for cp in _CATEGORY["Cf"] if cp != 0x200D and cp not in _TAGS},
    **{cp: None for cp in _FILLERS},
    **{cp: " " for cp in _CATEGORY["Cc"]},
    **{cp: "\ufffd" for cp in _points("D800-DFFF")},
}
_INVISIBLE_POINTS = list(_INVISIBLE_TABLE)
_UNSAFE = re.compile(_class(_INVISIBLE_POINTS))
_TAG_SEQUENCE_OR_STRAY_TAG = re.compile(r"(\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f)|[\U000e0020-\U000e007f]")
# A ZWJ survives only between pictographs (a variation selector may sit on
# the left one): "👨‍👩‍👧" stays one family, "a\u200db" loses its hidden joiner.
# Starting with the ZWJ itself lets `re` skip to the next one at C speed.
_STRAY_ZWJ = re.compile(rf"({_ZWJ})(?:(?<={_PICT}{_ZWJ})|(?<={_PICT}[\ufe0e\ufe0f]{_ZWJ})){_ZWJ}*(?={_PICT})|{_ZWJ}")

# NFKC would turn our own "…" into "..." (so a capped text would change on a
# second pass) and "ㅋㅋ" into conjoining jamo that fonts and TTS render badly.
_NFKC_EXEMPT = re.compile("([\u2026\u3131-\u318e]+)")
_NFKC_EXEMPT_POINTS = frozenset(_points("2026 3131-318E"))
# A text with none of these is NFKC already: nothing decomposes, nothing
# reorders (only marks have a combining class) and nothing composes (the
# second of a canonical pair is always a mark or a Hangul vowel or final).
_NFKC_SUSPECT_POINTS = [
    p for p in (*_CATEGORY["decomposable"], *_MARK_POINTS, *_JAMO_L, *_JAMO_V, *_JAMO_T) if p not in _NFKC_EXEMPT_POINTS
]
_NFKC_SUSPECTS = re.compile(_class(_NFKC_SUSPECT_POINTS, loose=True))
# Most chat has none of these: then sanitising only tidies whitespace.
_NEEDS_CLEANING = re.compile(_class([*_INVISIBLE_POINTS, 0x200D, *_TAGS, *_NFKC_SUSPECT_POINTS], loose=True))


def _first_group(match: re.Match[str]) -> str:
    return match[1] or ""


def _nfkc(text: str) -> str:
    """NFKC, except for the ellipsis and Hangul compatibility jamo, kept as they are.

    Both are starters that compose with nothing, so normalising the pieces
    between them is the same as normalising the whole around them.
    """
    if text.isascii() or not _NFKC_SUSPECTS.search(text):
        return text
    if not _NFKC_EXEMPT.search(text):
        return unicodedata.normalize("NFKC", text)
    parts = _NFKC_EXEMPT.split(text)
    parts[::2] = [unicodedata.normalize("NFKC", part) for part in parts[::2]]
    return "".join(parts)


def _clean(text: str) -> str:
    """Invisible characters out, controls to spaces, then NFKC."""
    if _UNSAFE.search(text):
        text = text.translate(_INVISIBLE_TABLE)
    text = _TAG_SEQUENCE_OR_STRAY_TAG.sub(_first_group, text)
    text = _nfkc(text)
    # After NFKC, which can turn a pictograph neighbour into letters ("‼" -> "!!").
    if _ZWJ in text:
        pruned = _STRAY_ZWJ.sub(_first_group, text)
        if pruned != text:  # a ZWJ blocks composition: its neighbours may compose now
            text = _nfkc(pruned)
    return text


def sanitize(text: str, *, max_graphemes: int) -> str:
    """The text the VTuber and the log see: visible, normalised, capped with "…".

    Idempotent: sanitising a sanitised text changes nothing. NFKC is applied
    except to "…" and Hangul compatibility jamo (see `_nfkc`).
    """
    if max_graphemes < 1:
        raise ValueError(f"max_graphemes must be at least 1, not {max_graphemes}")
    return _sanitize(max_graphemes, text)


@functools.lru_cache(maxsize=16)
def sanitizer(max_graphemes: int) -> Callable[[str], str]:
    """`sanitize` at this cap, checked once here: for a caller that sanitises
    every message, one C call per text (a cache keyed by the text alone, so
    no key tuple is built), and a Python frame only for a text not seen
    lately."""
    if max_graphemes < 1:
        raise ValueError(f"max_graphemes must be at least 1, not {max_graphemes}")
    return functools.lru_cache(maxsize=4096)(functools.partial(_clean_text, max_graphemes))


@functools.lru_cache(maxsize=4096)  # chat repeats itself: emotes, "ㅋㅋㅋ", raids, floods
def _sanitize(max_graphemes: int, text: str) -> str:
    return _clean_text(max_graphemes, text)


def _clean_text(max_graphemes: int, text: str) -> str:
    dirty = not text.isprintable() if text.isascii() else _NEEDS_CLEANING.search(text) is not None
    if dirty:
        text = _clean(text)
    text = " ".join(text.split())  # any run of whitespace, ends stripped
    if len(text) <= max_graphemes:  # never more clusters than characters
        return text
    clusters = graphemes(text)
    if len(clusters) <= max_graphemes:
        return text
    return "".join(clusters[: max_graphemes - 1]).rstrip() + _ELLIPSIS


# ---- comparison_key --------------------------------------------------------------------------

# Punctuation, symbols, spaces and invisibles carry no identity; emoji do
# ("😂😂" is not "🙏🙏"), and so does the ZWJ that makes "👨‍👩‍👧" one
# family, but not a skin tone or presentation selector.
# A dropped character takes its combining marks along ("!\u0301", "≠" as
# "=\u0338"), and so does the start of the text: a mark needs a kept base.
_SYMBOLS = (cp for cp in (*_CATEGORY["P"], *_CATEGORY["S"]) if cp not in _PICTOGRAPHIC_SET)
_FORMATS = (cp for cp in _CATEGORY["Cf"] if cp != 0x200D)
_SEPARATORS = [*_CATEGORY["Z"], *_CATEGORY["Cc"], *_VARIATION_SELECTORS, *_SKIN_TONES, *_FILLERS]
_NOISE_POINTS = [*_SYMBOLS, *_FORMATS, *_SEPARATORS]
# Astral noise only from blocks chat uses (musical, signwriting and legacy-
# computing symbols, tags, selectors): the punctuation of historic scripts
# would cost every character a hundred range checks (see `_class`).
_ASTRAL_NOISE = _points("1D000-1D24F 1D300-1D35F 1D800-1DAAF 1F3FB-1F3FF 1FB00-1FBFF E0000-E007F E0100-E01EF")
_KEY_NOISE = _class([*(p for p in _NOISE_POINTS if p <= 0xFFFF), *_ASTRAL_NOISE])
_MARKS = _class(_MARK_POINTS)
_KEY_DROP = re.compile(rf"{_KEY_NOISE}(?:{_KEY_NOISE}|{_MARKS})*")
_KEY_NOISE_RUN = re.compile(rf"{_KEY_NOISE}+")
_LEADING_MARKS = re.compile(rf"{_MARKS}+")
_ASCII_NOISE_BYTES = bytes(b for b in range(256) if not (0x30 <= b <= 0x39 or 0x61 <= b <= 0x7A))  # not a-z, 0-9
_CHAR_RUN = re.compile(r"(.)\1\1+", re.DOTALL)


def _compat_jamo_table() -> dict[int, int]:
    """Conjoining jamo -> the compatibility jamo of the same letter ("ᄏ", "ᆿ" -> "ㅋ").

    NFKC sends "ㅋ" to a conjoining jamo; we keep "ㅋ" and bring the
    conjoining forms (and, through NFKC, the half-width ones) to it instead.
    """
    table: dict[int, int] = {}
    for cp in (*_JAMO_L, *_JAMO_V, *_JAMO_T):
        name = unicodedata.name(chr(cp), "")
        for position in ("CHOSEONG ", "JUNGSEONG ", "JONGSEONG "):
            if position in name:
                try:
                    table[cp] = ord(unicodedata.lookup(name.replace(position, "LETTER ")))
                except KeyError:  # archaic jamo with no compatibility twin stay as they are
                    pass
    return table


_TO_COMPAT_JAMO = _compat_jamo_table()
_CONJOINING_JAMO = re.compile(_class(_TO_COMPAT_JAMO))


def _fold(text: str) -> str:
    """NFKC (as `_nfkc`), casefold, and one spelling for every jamo."""
    if text.isascii() or not _NFKC_SUSPECTS.search(text):
        return text.casefold()  # which makes no suspects of non-suspects (a test checks)
    text = _nfkc(_nfkc(text).casefold())  # casefolding can decompose: "ß\u0301" -> "ss\u0301"
    return text.translate(_TO_COMPAT_JAMO) if _CONJOINING_JAMO.search(text) else text


def _twice(match: re.Match[str]) -> str:
    return match[1] * 2


@functools.lru_cache(maxsize=4096)
def comparison_key(text: str) -> str:
    """The key under which two messages count as the same text.

    Insensitive to case, width, whitespace, punctuation and symbols (emoji
    stay, without skin tones or variation selectors), and to how long a run
    is: every run of one character or one grapheme of length >= 2 becomes
    exactly 2 ("lolllll" -> "loll", "ㅋㅋㅋㅋㅋ" -> "ㅋㅋ"). Korean jamo are
    compared as compatibility jamo, whichever form was typed, and never
    compose ("ㅋㅠㅠㅠ" stays a laugh and a cry, not "큐").

    Idempotent: comparison_key(comparison_key(t)) == comparison_key(t).
    Cached: chat repeats itself, and the router asks once per message.
    """
    if text.isascii():  # the same steps, where noise is anything but a-z and 0-9 (deleted at C speed)
        return _CHAR_RUN.sub(_twice, text.lower().encode().translate(None, _ASCII_NOISE_BYTES).decode())
    plain = not _NFKC_SUSPECTS.search(text)  # nothing to normalise, and no marks
    key = text.casefold() if plain else _fold(text)
    if _ZWJ in key:
        key = _STRAY_ZWJ.sub(_first_group, key)
    if plain:  # whitespace, most of the noise, goes at C speed first
        key = _KEY_NOISE_RUN.sub("", "".join(key.split()))
    else:
        # Folding turns every jamo into a compatibility jamo, and the drop takes
        # marks with their base, so what remains composes with nothing.
        key = _KEY_DROP.sub("", key)
        if leading := _LEADING_MARKS.match(key):
            key = key[leading.end() :]
    key = _CHAR_RUN.sub(_twice, key)
    if _JOINING.search(key):  # multi-character clusters: flags, keycaps, marks
        clusters = graphemes(key)
        doubles = list(map(eq, clusters, clusters[1:]))
        if any(map(and_, doubles, doubles[1:])):  # a run of three, ruled out at C speed
            key = "".join(cluster * min(2, len(list(run))) for cluster, run in groupby(clusters))
    return key


# ---- runs and emoji ----------------------------------------------------------------------------

_DOUBLE = re.compile(r"(.)\1", re.DOTALL)
_RUN = re.compile(r"(.)\1\1*", re.DOTALL)


def longest_run(text: str) -> int:
    """The longest run of one repeated grapheme, whitespace removed first.

    Removing (not just skipping) whitespace means "ㅋ ㅋ ㅋ ㅋ" is a run of 4:
    spacing a run out does not hide it.
    """
    text = "".join(text.split())
    if not text:
        return 0
    if not _JOINING.search(text):
        if not _DOUBLE.search(text):  # most text: a cheap no
            return 1
        return max(m.end() - m.start() for m in _RUN.finditer(text))
    clusters = graphemes(text)
    if not any(map(eq, clusters, clusters[1:])):
        return 1
    return max(len(list(run)) for _, run in groupby(clusters))


@functools.lru_cache(maxsize=16)
def _run_longer_than(limit: int) -> re.Pattern[str]:
    return re.compile(rf"(.)\1{{{limit}}}", re.DOTALL)


def has_run_over(text: str, limit: int) -> bool:
    """`longest_run(text) > limit`, without measuring every run: the spam
    filter asks this of every message, and most have no run at all."""
    text = "".join(text.split())
    if len(text) <= limit:
        return False
    # ASCII has no joining character once whitespace is gone (CR was the one)
    if text.isascii() or not _JOINING.search(text):
        return _run_longer_than(limit).search(text) is not None
    return longest_run(text) > limit


_EMOJI_EXTEND = _class(p for p in _EXTEND_POINTS if p not in _SKIN_TONES)  # a skin tone is a pictograph itself
_EMOJI = rf"(?:[0-9#*]\ufe0f?\u20e3|{_PICT}{_EMOJI_EXTEND}*(?:{_ZWJ}{_PICT}{_EMOJI_EXTEND}*)*)"
# An emote as each platform writes it: a YouTube member emoji ":_miraHeart:",
# a Chzzk emote placeholder "{:d_47:}" (kept by the Chzzk parser only when a
# message has nothing else).
_SHORTCODE = r"(?::[A-Za-z0-9_-]+:|\{:[^\s{}:]{1,64}:\})"
# Each character has one role here, so the regex never backtracks exponentially.
_EMOJI_ONLY = re.compile(rf"\s*(?:(?:{_SHORTCODE}|{_EMOJI})\s*)+")


def is_emoji_only(text: str) -> bool:
    """True if the text has at least one emoji (or emote code: YouTube's
    ":shortcode:", Chzzk's "{:id:}") and nothing but emoji, emote codes and
    whitespace. A blank text is not emoji-only."""
    # ASCII has no emoji (a keycap needs U+20E3): only emote codes, and
    # each of those has a colon
    if text.isascii() and ":" not in text:
        return False
    return _EMOJI_ONLY.fullmatch(text) is not None
