"""Ranking: which pending chat message the AI should answer next.

On a busy stream the VTuber speaks maybe one message in ten seconds while
hundreds arrive, so the score decides what the audience experiences. It is a
plain sum of named parts, and every dispatch logs them (`Score.to_dict`), so a
streamer can always see *why* a message won. The philosophy, part by part:

- **Money first, and it dominates.** A viewer who pays is promised a reply;
  every AI VTuber project surveyed ranks Super Chats and donations above chat.
  `paid_base` is set above the largest bonus an unpaid message can collect
  (membership or gift, mention, question, first message, a crowd: 25 + 8 + 6
  + 4 + 10 = 53 with the defaults), so between two messages of the same author and age a
  paid one always ranks first, however cheap and however dull. Roles, age and
  the recent-author penalty are the author's and the clock's, the same on both
  sides, so they cannot change that order.
- **Amounts on a log scale.** `paid_per_usd * log2(1 + usd)`: a $100 Super
  Chat ranks above a $5 one, but not twenty times as far above, so a large
  donor cannot bury everyone else for minutes, and $1 vs $2 still matters as
  much as $50 vs $100. Currencies are compared through a rate table of
  USD-equivalents, so ₩10,000 and $5 fall in a sensible order.
- **Who and what.** Owner, moderator, member and verified bonuses add up per
  role held. A message that names the VTuber, asks a question, or is the
  author's first one is more likely to make a good answer: the same signals
  RandomSci/VR-Agent uses (paid, question, addressed to the character), kept
  small relative to money.
- **Age costs.** `age_per_second` is subtracted per second waited: among equals
  fresh chat beats stale chat, because an answer to a question asked two
  minutes ago lands in a conversation that has moved on.
- **A crowd counts.** When several viewers say the same thing (the router
  merges them into one entry), `crowd` points per extra viewer, up to
  `crowd_max`: the question three people asked is the one most worth
  answering, once. Laughter and emotes merge but earn nothing: a crowd
  saying "ㅋㅋㅋ" is not a question.
- **Nobody monopolises the AI.** An author answered within
  `recent_author_window` seconds loses `recent_author` points, so the same
  two regulars do not get every turn.

Everything here is pure (no Trio, no I/O) and deterministic, so the archive
replays to the same ranking. `now` is whatever clock `received_at` uses
(``trio.current_time()`` in the service).
"""

from __future__ import annotations

import functools
import math
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType

import attrs

from ..chat import Amount, ChatEvent, Kind, Role
from .similar import tokens

__all__ = ["DEFAULT_RATES", "Score", "Weights", "is_question", "mentions", "score", "usd_value"]


# ---- weights ------------------------------------------------------------------


@attrs.frozen
class Weights:
    """Points per signal; all tunable from config.toml, defaults are the product's opinion.

    Every weight is a finite number >= 0: penalties (age, recent author) are
    given as positive numbers and subtracted, so a negative anywhere is a
    mistake that would turn a penalty into a bonus.
    """

    paid_base: float = 60.0  # any paid message (donation, sticker) starts here...
    paid_per_usd: float = 10.0  # ...plus paid_per_usd * log2(1 + usd)
    membership: float = 20.0  # new member / milestone / subscription
    gift: float = 25.0
    owner: float = 15.0
    moderator: float = 10.0
    member: float = 5.0
    vip: float = 4.0  # Twitch's VIP badge
    verified: float = 2.0
    mention: float = 8.0  # the text names the VTuber
    question: float = 6.0  # the text looks like a question
    first_message: float = 4.0  # first message we have seen from this author
    crowd: float = 5.0  # per extra viewer who said the same thing (a merged crowd)...
    crowd_max: float = 10.0  # ...up to this many points
    age_per_second: float = 0.2  # subtracted per second since received
    recent_author: float = 20.0  # subtracted if answered within the window
    recent_author_window: float = 600.0  # ten minutes: on a busy stream, a turn for someone new

    def __attrs_post_init__(self) -> None:
        for field in attrs.fields(Weights):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"Weights.{field.name}: expected a number, got {value!r}")
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Weights.{field.name}: must be a finite number >= 0, got {value!r}")


# ---- score --------------------------------------------------------------------


@attrs.frozen
class Score:
    """A total and the named parts it is the sum of (zero parts omitted)."""

    total: float
    parts: tuple[tuple[str, float], ...]

    def to_dict(self) -> dict[str, float]:
        """JSON-ready breakdown for the log and the archive: {"total": ..., part: ...}."""
        out = {"total": round(self.total, 3)}
        for name, value in self.parts:
            out[name] = round(value, 3)
        return out


# ---- money ----------------------------------------------------------------------

# USD per one unit of each currency. Rough mid-2020s rates: ranking only needs
# the right order of magnitude, and the streamer can override any of them.
DEFAULT_RATES: Mapping[str, Decimal] = MappingProxyType(
    {
        "USD": Decimal("1"),
        "KRW": Decimal("0.00072"),
        "JPY": Decimal("0.0067"),
        "EUR": Decimal("1.08"),
        "GBP": Decimal("1.27"),
        "TWD": Decimal("0.031"),
        "CAD": Decimal("0.73"),
        "AUD": Decimal("0.66"),
        "PHP": Decimal("0.018"),
        "IDR": Decimal("0.000063"),
        "MXN": Decimal("0.055"),
        "BRL": Decimal("0.18"),
        "INR": Decimal("0.012"),
        "HKD": Decimal("0.128"),
        "SGD": Decimal("0.75"),
    }
)


def usd_value(amount: Amount, rates: Mapping[str, Decimal]) -> Decimal | None:
    """The amount in USD-equivalents, exact; None if the currency is not in
    `rates` or the value is not a finite number (a malformed record)."""
    rate = rates.get(amount.currency)
    if rate is None:
        rate = rates.get(amount.currency.strip().upper())
        if rate is None:
            return None
    if not amount.value.is_finite():
        return None
    return amount.value * rate


# float(Decimal) of an absurd amount is inf; clamping keeps every score finite
# (JSON has no Infinity) and still monotone.
_FLOAT_MAX = sys.float_info.max
_LN2 = math.log(2.0)


# ---- text signals ---------------------------------------------------------------


def _fold(text: str) -> str:
    # NFKC first (full-width "ＭＩＲＡ？" -> "MIRA?"), then casefold. Both are
    # cheap on text that is already normalised: CPython has a quick check.
    return unicodedata.normalize("NFKC", text).casefold()


def _hangul_with_final(index: int) -> str:
    """A character class of every Hangul syllable whose final consonant is `index`
    (ㄴ 4, ㄹ 8, ㅂ 17): precomposed syllables are 0xAC00 + (lead*21 + vowel)*28 + final."""
    return "[" + "".join(chr(0xAC00 + block * 28 + index) for block in range(19 * 21)) + "]"


_N, _L, _B = (_hangul_with_final(i) for i in (4, 8, 17))

# English, after casefolding. A question starts a clause (text start, or after
# . ! , ; :), perhaps after an @mention or an interjection ("hey what ...").
_EN_LEAD = r"(?:(?:@\S+|hey|hi|hello|yo|oh|ok|okay|so|but|and|also|btw|wait|lol|lmao|omg|wow|um+|uh+|hm+)[\s,!.]+)*"
_EN_SUBJECT = (
    r"(?:i|you|u|ya|ye|we|they|he|she|it|this|that|these|those|there|your|ur|my|our|his|her|their"
    r"|the|a|an|any|anyone|anybody|someone|somebody|everyone|y['’]?all)"
)
_EN_AUX = (
    r"(?:can|could|do|does|did|is|are|was|were|will|would|should|have|has|am|may|r"
    r"|don['’]?t|doesn['’]?t|didn['’]?t|isn['’]?t|aren['’]?t|can['’]?t|won['’]?t|wouldn['’]?t)"
)
_EN_QUESTION = (
    _EN_LEAD + r"(?:"
    # wh-word plus at least one more word; "what a play" is an exclamation
    r"(?:what|whats|why|when|where|wheres|who|whos|whose|whom|which)(?:['’]s)?\s+(?!an?\b)\S"
    # "how" only before words that make it a question: "how cute" is not one
    r"|how(?:['’]?s)?\s+(?:do|does|did|is|are|was|were|can|could|would|will|should|many|much|long|old|often"
    r"|far|about|come|r|u|you|i|we|they|he|she|it|to)\b"
    # auxiliary + subject + one more word: "do you like cats", not "do it", "can't wait"
    r"|" + _EN_AUX + r"\s+" + _EN_SUBJECT + r"\s+\S"
    r")"
)
# Two patterns rather than one "(?:^|[.!,;:])" search: a pattern that begins
# with a literal set lets the regex engine skip ahead (with the Korean patterns
# below, 0.8 µs instead of 3.2 µs on a typical line that is not a question).
_EN_AT_START = re.compile(r"\s*" + _EN_QUESTION)
_EN_AFTER_PUNCTUATION = re.compile(r"[.!,;:…]\s*" + _EN_QUESTION)


def _korean_word(word: str, not_before: str = "") -> str:
    # The word must start a Hangul word. The lookbehind sits after the word
    # (width len+1) so the pattern still begins with a literal.
    lookahead = f"(?!{not_before})" if not_before else ""
    return f"{word}(?<![가-힣]{word}){lookahead}"


# Korean question words, at the start of a word anywhere in the text ("뭐 먹었어",
# "오늘 뭐 해"); not their indefinite forms (누구나 anyone, 언제든 whenever,
# 왜냐하면 because, 뭔가 something, 몇몇 some).
_KO_WORDS = re.compile(
    "|".join(
        _korean_word(*spec)
        for spec in (
            ("뭐", "든|라도"),
            ("뭘",),
            ("뭔", "가"),
            ("왜", "냐"),
            ("어떻게", "든"),
            ("언제", "나|든"),
            ("어디", "나|든"),
            ("누구", "나|든"),
            ("무슨",),
            ("몇", "몇"),
            ("얼마",),
            ("어때",),
            ("어땠",),
            ("어떤",),
            ("어느",),
        )
    )
)

# Korean question endings on the last word, before trailing laughter, emoji and
# punctuation ("밥 먹었니 ㅋㅋ"). Intonation questions ("…어요?", "…야?") read
# exactly like statements without their "?", so only the "?" rule catches them.
# Matched on the REVERSED text, so the match is anchored and never scans.
_KO_END_REVERSED = re.compile(
    # \W: punctuation, emoji, spaces; ㅋ ㅎ ㅠ as typed (3131-318e) and as NFKC
    # leaves them in _fold (conjoining jamo, 1100-11ff)
    r"(?:[\W_]|[\u3131-\u318e\u1100-\u11ff])*(?:"
    + "|".join(
        (
            "니(?![언머아미지])",  # 먹었니; not 언니, 어머니, 아니, 미니, 지니
            "요?까니" + _B,  # 입니까, 습니까; not 그러니까 (= so, because)
            "요?까" + _L,  # 할까, 먹을까요; not 아까 (= earlier)
            "요가" + _N,  # 인가요, 한가요; not 집에 가요 (= I go)
            "요나",  # 좋아하나요
            "냐",  # 뭐하냐
        )
    )
    + ")"
)


def _is_question_folded(folded: str) -> bool:
    if "?" in folded or _EN_AT_START.match(folded) is not None or _EN_AFTER_PUNCTUATION.search(folded) is not None:
        return True
    # Every Korean rule needs a Hangul syllable: English chat skips them.
    return not folded.isascii() and (
        _KO_WORDS.search(folded) is not None or _KO_END_REVERSED.match(folded[::-1]) is not None
    )


def is_question(text: str) -> bool:
    """Whether a chat line looks like a question: deliberately simple rules.

    - It contains "?" (or full-width "？").
    - English: a clause starts (after an optional @mention or "hey", "so",
      "lol" ...) with a wh-word and another word ("what game is this", not
      "what a play"), with "how" before a question word ("how do you", "how
      many", not "how cute"), or with an auxiliary and a subject and another
      word ("do you like cats", "is this minecraft"; not "do it", "can't wait").
    - Korean: a question word anywhere at a word start (뭐, 왜, 어떻게, 언제,
      어디, 누구, 무슨, 몇, 얼마, 어때, 어떤, 어느; not 누구나, 언제든,
      왜냐하면), or a question ending on the last word (…니, …ㅂ니까, …ㄹ까(요),
      …ㄴ가요, …나요, …냐), trailing ㅋㅋ/emoji/punctuation ignored.

    False positives cost little (a few points); "뭐야 ㅋㅋ" counts as a question.
    """
    return _is_question_folded(_fold(text))


# A Latin-script edge of a name must not touch another letter of that kind.
_LATIN = r"0-9a-z_\u00c0-\u024f\u1e00-\u1eff"
_LATIN_EDGE = re.compile(f"[{_LATIN}]")


@functools.lru_cache(maxsize=64)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    # Names come from the config and rarely change: normalise and compile
    # them once per configuration, never once per message.
    parts = []
    for name in sorted({_fold(n).strip() for n in names} - {""}, key=len, reverse=True):
        # Latin edges are whole-word ("mira" in "hi mira!", not in "miranda");
        # Hangul edges are substrings because particles attach ("미라야", "미라는").
        # The left check is a lookbehind placed after the name, so the pattern
        # begins with a literal and the engine can skip ahead to candidates.
        escaped = re.escape(name)
        left = f"(?<![{_LATIN}]{escaped})" if _LATIN_EDGE.match(name[0]) else ""
        right = f"(?![{_LATIN}])" if _LATIN_EDGE.match(name[-1]) else ""
        parts.append(escaped + left + right)
    return re.compile("|".join(parts)) if parts else None


def _mentions_folded(folded: str, names: tuple[str, ...]) -> bool:
    pattern = _names_pattern(names)
    return pattern is not None and pattern.search(folded) is not None


def mentions(text: str, names: Sequence[str]) -> bool:
    """Whether `text` names the VTuber: NFKC, case-insensitive; Latin names as
    whole words ("Mira" in "hi mira!", not in "Miranda"), Korean names as
    substrings ("미라야", "미라는"). A mixed name ("Mira쨩") is whole-word on
    its Latin edge only."""
    return _mentions_folded(_fold(text), tuple(names))


@functools.lru_cache(maxsize=16)
def _text_signals(names: tuple[str, ...]) -> Callable[[str], tuple[bool, bool]]:
    """(mentions, is_question) of a text, memoised per configuration of names.

    The buffer re-scores every pending message on each push and pull (scores
    move with time), so the same text is analysed many times; its text
    signals never change. Keyed on the text alone, whose hash the str caches.
    Bounded, so a week-long stream does not grow memory.
    """
    pattern = _names_pattern(names)

    @functools.lru_cache(maxsize=4096)
    def signals(text: str) -> tuple[bool, bool]:
        folded = _fold(text)
        return (pattern is not None and pattern.search(folded) is not None, _is_question_folded(folded))

    return signals


# ---- the score ------------------------------------------------------------------

# Module constants: enum class attribute lookups are slow on Python 3.11.
_DONATION, _STICKER, _MEMBERSHIP, _GIFT, _MODERATION = (
    Kind.DONATION,
    Kind.STICKER,
    Kind.MEMBERSHIP,
    Kind.GIFT,
    Kind.MODERATION,
)
_OWNER, _MODERATOR, _MEMBER, _VIP, _VERIFIED = Role.OWNER, Role.MODERATOR, Role.MEMBER, Role.VIP, Role.VERIFIED


def _role_parts(roles: frozenset[Role], w: Weights, append: Callable[[tuple[str, float]], None]) -> None:
    if _OWNER in roles and w.owner:
        append(("owner", w.owner))
    if _MODERATOR in roles and w.moderator:
        append(("moderator", w.moderator))
    if _MEMBER in roles and w.member:
        append(("member", w.member))
    if _VIP in roles and w.vip:
        append(("vip", w.vip))
    if _VERIFIED in roles and w.verified:
        append(("verified", w.verified))


def score(
    event: ChatEvent,
    *,
    now: float,
    weights: Weights,
    rates: Mapping[str, Decimal],
    names: Sequence[str],
    first_message: bool,
    last_answered_at: float | None,
    askers: int = 1,
) -> Score:
    """Rank one pending message at time `now` (the clock of `event.received_at`).

    `first_message`: this is the first message seen from its author.
    `last_answered_at`: when the AI last answered this author, if ever.
    `askers`: how many distinct viewers said this (a merged crowd).
    A paid message whose currency is not in `rates` still gets `paid_base`.
    Moderation events are never ranked: ValueError.
    """
    parts = score_parts(
        event,
        now=now,
        weights=weights,
        rates=rates,
        names=names,
        first_message=first_message,
        last_answered_at=last_answered_at,
        askers=askers,
    )
    return Score(total=total(parts), parts=tuple(parts))


def total(parts: Iterable[tuple[str, float]]) -> float:
    """The sum of score parts, added in their order: `Score.total` exactly."""
    out = 0.0
    for _, value in parts:
        out += value
    return out


def score_parts(
    event: ChatEvent,
    *,
    now: float,
    weights: Weights,
    rates: Mapping[str, Decimal],
    names: Sequence[str],
    first_message: bool,
    last_answered_at: float | None,
    askers: int = 1,
) -> list[tuple[str, float]]:
    """The parts of `score`, in order, zero parts omitted: for a caller that
    needs only the total (the buffer's static part, once per push), without
    building a Score."""
    kind = event.kind
    if kind is _MODERATION:
        raise ValueError(f"moderation event {event.id!r} cannot be scored")
    w = weights
    parts: list[tuple[str, float]] = []
    append = parts.append

    amount = event.amount
    # A donation or sticker without an amount is still paid: the platform said so.
    if amount is not None or kind is _DONATION or kind is _STICKER:
        if w.paid_base:
            append(("paid", w.paid_base))
        if amount is not None and w.paid_per_usd:
            usd = usd_value(amount, rates)
            if usd is not None and usd > 0:
                # log1p: exact for tiny USD-equivalents (a few IDR), where 1 + x rounds to 1
                value = w.paid_per_usd * math.log1p(min(float(usd), _FLOAT_MAX)) / _LN2
                if value:
                    append(("amount", value))
    if kind is _MEMBERSHIP:
        if w.membership:
            append(("membership", w.membership))
    elif kind is _GIFT and w.gift:
        append(("gift", w.gift))

    roles = event.author.roles
    if roles:
        _role_parts(roles, w, append)

    text = event.text
    if text and (w.mention or w.question):
        mentioned, asked = _text_signals(tuple(names))(text)
        if mentioned and w.mention:
            append(("mention", w.mention))
        if asked and w.question:
            append(("question", w.question))
    if first_message and w.first_message:
        append(("first_message", w.first_message))
    if askers > 1 and w.crowd and w.crowd_max and tokens(text, tuple(names)):
        append(("crowd", min(w.crowd * (askers - 1), w.crowd_max)))

    age = now - event.received_at  # negative (clock skew in tests): no bonus
    if age > 0 and w.age_per_second:
        value = -w.age_per_second * age
        if value:  # a subnormal product can round to zero
            append(("age", value))
    if last_answered_at is not None and w.recent_author and now - last_answered_at < w.recent_author_window:
        append(("recent_author", -w.recent_author))
    return parts
