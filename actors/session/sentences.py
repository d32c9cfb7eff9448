"""OLV's sentences joined into one reply, spaced the way the language writes.

OLV sends one `audio` message per sentence, and its `display_text` carries
no separator: OLV's own memory holds them run together ("Hello there!Nice to
meet you."). For the log, the archive and the `interrupt-signal` text (what
the audience heard, which becomes the AI's memory) we join them with one
space, except where the text already has whitespace at the seam, and except
between Japanese or Chinese characters, which are written without spaces
("こんにちは。元気ですか？"). Korean (Hangul) separates sentences with spaces
like English, so it is not in the no-space set.

OLV's `faster_first_response` cuts the first sentence at its first comma,
even inside a number: "₩1," then "000]". A seam between a digit with a
comma or a point and a digit is no seam (seen against a real OLV 1.2.1).
"""

from __future__ import annotations

from collections.abc import Iterable

# Han, kana and CJK punctuation: scripts written without spaces between
# sentences. Hangul is deliberately absent.
_NO_SPACE_RANGES = (
    (0x3000, 0x303F),  # CJK symbols and punctuation: 、。「」
    (0x3040, 0x309F),  # Hiragana
    (0x30A0, 0x30FF),  # Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF01, 0xFF60),  # fullwidth ASCII forms: ！？（）
    (0xFF61, 0xFF9F),  # halfwidth CJK punctuation and katakana
    (0x20000, 0x3FFFF),  # CJK ideographs, supplementary planes
)


def is_unspaced(char: str) -> bool:
    """Whether `char` belongs to a script written without spaces (Japanese, Chinese)."""
    code = ord(char)
    return any(low <= code <= high for low, high in _NO_SPACE_RANGES)


def join_sentences(parts: Iterable[str]) -> str:
    """The sentences as one text: a single space at each seam that has none,
    none between two unspaced (CJK) characters."""
    out = ""
    for part in parts:
        if not part:
            continue
        bare_seam = out and not out[-1].isspace() and not part[0].isspace()
        if bare_seam and not (is_unspaced(out[-1]) and is_unspaced(part[0])) and not _inside_number(out, part):
            out += " "
        out += part
    return out


def _inside_number(before: str, after: str) -> bool:
    """A cut like "1," + "000" or "3." + "5": one number, not two sentences."""
    return len(before) >= 2 and before[-1] in ",." and before[-2].isdigit() and after[0].isdigit()
