"""Ranking: the score is an explainable sum, money dominates, time and repetition cost.

Properties over any scorable chat event (Hypothesis), then worked examples
with numbers a streamer can check by hand, and a few dozen real-looking chat
lines for the question and mention detectors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from actors.chat import Amount, Author, ChatEvent, Kind, Platform, Role
from actors.router.priority import DEFAULT_RATES, Score, Weights, is_question, mentions, score, usd_value
from strategies import chat_events

# ---- strategies ---------------------------------------------------------------

ROLE_PART = {
    Role.OWNER: "owner",
    Role.MODERATOR: "moderator",
    Role.MEMBER: "member",
    Role.VIP: "vip",
    Role.VERIFIED: "verified",
}
KNOWN_PARTS = {
    "paid",
    "amount",
    "membership",
    "gift",
    *ROLE_PART.values(),
    "mention",
    "question",
    "first_message",
    "age",
    "recent_author",
}
WEIGHT_NAMES = [f.name for f in attrs.fields(Weights)]

scorable_kinds = st.sampled_from([k for k in Kind if k is not Kind.MODERATION])
scorable_events = chat_events(kinds=scorable_kinds)
paid_events = chat_events(kinds=st.sampled_from([Kind.DONATION, Kind.STICKER]))
unpaid_events = chat_events(kinds=st.sampled_from([Kind.CHAT, Kind.MEMBERSHIP, Kind.GIFT]))

NAMES = ("Mira", "미라")
name_sets = st.sampled_from([(), NAMES, ("mira",), ["ＭＩＲＡ", "미라"]])
rate_tables = st.sampled_from([DEFAULT_RATES, {"USD": Decimal(1)}, {}])

# Lines that collect the text bonuses, mixed into random text so that the
# mention and question parts really occur in the properties.
SIGNAL_LINES = ["미라야 뭐 먹었어?", "Mira what game is this", "hi mira!", "뭐 해", "lol", "ㅋㅋㅋ", ""]
texts = st.one_of(st.sampled_from(SIGNAL_LINES), st.text(max_size=40))

any_weights = st.builds(
    Weights, **{name: st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=1e3)) for name in WEIGHT_NAMES}
)
# Integer-valued weights: sums are exact, so strict comparisons mean what they say.
integer_weights = st.builds(
    Weights, **{name: st.integers(min_value=0, max_value=100).map(float) for name in WEIGHT_NAMES}
)

clock = st.floats(min_value=0.0, max_value=1e5)
ages = st.floats(min_value=-5.0, max_value=3600.0)  # negative: received "after" now
last_answers = st.one_of(st.none(), st.floats(min_value=-1e3, max_value=1e5))


DEFAULT_WEIGHTS = Weights()


def rank(
    event: ChatEvent,
    *,
    now: float = 100.0,
    weights: Weights = DEFAULT_WEIGHTS,
    rates: Mapping[str, Decimal] = DEFAULT_RATES,
    names: Sequence[str] = NAMES,
    first_message: bool = False,
    last_answered_at: float | None = None,
) -> Score:
    return score(
        event,
        now=now,
        weights=weights,
        rates=rates,
        names=names,
        first_message=first_message,
        last_answered_at=last_answered_at,
    )


def event(
    kind: Kind = Kind.CHAT,
    text: str = "",
    amount: Amount | None = None,
    roles: frozenset[Role] = frozenset(),
    received_at: float = 100.0,
) -> ChatEvent:
    return ChatEvent(
        platform=Platform.YOUTUBE,
        id="m1",
        kind=kind,
        author=Author("u1", "Alice", roles),
        text=text,
        amount=amount,
        sent_at=datetime(2026, 11, 24, tzinfo=UTC),
        received_at=received_at,
    )


def money(value: str, currency: str) -> Amount:
    return Amount(Decimal(value), currency, f"{value} {currency}")


def part(s: Score, name: str) -> float | None:
    return dict(s.parts).get(name)


# ---- the shape of a score --------------------------------------------------------


@given(
    ev=scorable_events,
    text=texts,
    weights=any_weights,
    rates=rate_tables,
    names=name_sets,
    now=clock,
    age=ages,
    first=st.booleans(),
    last=last_answers,
)
def test_total_is_the_sum_of_named_nonzero_parts(
    *,
    ev: ChatEvent,
    text: str,
    weights: Weights,
    rates: Mapping[str, Decimal],
    names: Sequence[str],
    now: float,
    age: float,
    first: bool,
    last: float | None,
) -> None:
    ev = attrs.evolve(ev, text=text, received_at=now - age)
    s = rank(ev, now=now, weights=weights, rates=rates, names=names, first_message=first, last_answered_at=last)
    labels = [name for name, _ in s.parts]
    assert len(labels) == len(set(labels))
    assert set(labels) <= KNOWN_PARTS
    assert all(value != 0 and math.isfinite(value) for _, value in s.parts)
    assert math.isclose(s.total, math.fsum(v for _, v in s.parts), rel_tol=1e-12, abs_tol=1e-9)
    d = s.to_dict()
    assert list(d) == ["total", *labels]
    assert d == {"total": round(s.total, 3), **{k: round(v, 3) for k, v in s.parts}}
    assert json.loads(json.dumps(d, allow_nan=False)) == d


@given(ev=scorable_events, text=texts, names=name_sets, now=clock, age=ages, first=st.booleans(), last=last_answers)
def test_same_inputs_same_score(
    *, ev: ChatEvent, text: str, names: Sequence[str], now: float, age: float, first: bool, last: float | None
) -> None:
    ev = attrs.evolve(ev, text=text, received_at=now - age)

    def once(names: Sequence[str]) -> Score:
        return rank(ev, now=now, names=names, first_message=first, last_answered_at=last)

    before = once(names)
    other = once(("Someone", "다른이름"))  # the per-names caches must not leak into each other
    assert once(names) == before
    assert once(list(names)) == before
    assert other == once(("Someone", "다른이름"))


@given(ev=scorable_events, text=texts, names=name_sets)
def test_text_bonuses_agree_with_the_public_detectors(ev: ChatEvent, text: str, names: list[str]) -> None:
    # score() goes through a memoised fast path; it must say what the public functions say.
    s = rank(attrs.evolve(ev, text=text), names=names)
    assert (part(s, "mention") is not None) == mentions(text, names)
    assert (part(s, "question") is not None) == is_question(text)


def test_moderation_events_are_never_scored() -> None:
    with pytest.raises(ValueError, match="moderation"):
        rank(event(Kind.MODERATION))


# ---- money ----------------------------------------------------------------------------


def test_default_paid_base_exceeds_every_unpaid_bonus() -> None:
    # What an unpaid message can collect that a paid one of the same author and
    # age might not: its kind (at most one of membership, gift) and the text and
    # first-message bonuses, and a crowd's. Roles, age and the recent-author
    # penalty are equal.
    w = Weights()
    assert w.paid_base > max(w.membership, w.gift) + w.mention + w.question + w.first_message + w.crowd_max


@given(
    paid=paid_events,
    unpaid=unpaid_events,
    paid_text=texts,
    unpaid_text=texts,
    rates=rate_tables,
    now=clock,
    age=ages,
    firsts=st.tuples(st.booleans(), st.booleans()),
    last=last_answers,
)
def test_a_paid_message_outranks_an_unpaid_one_of_the_same_author_and_age(
    *,
    paid: ChatEvent,
    unpaid: ChatEvent,
    paid_text: str,
    unpaid_text: str,
    rates: Mapping[str, Decimal],
    now: float,
    age: float,
    firsts: tuple[bool, bool],
    last: float | None,
) -> None:
    # rate_tables include tables without the currency: paid_base alone must suffice.
    paid = attrs.evolve(paid, text=paid_text, received_at=now - age)
    unpaid = attrs.evolve(unpaid, text=unpaid_text, author=paid.author, received_at=now - age)
    paid_score = rank(paid, now=now, rates=rates, first_message=firsts[0], last_answered_at=last)
    unpaid_score = rank(unpaid, now=now, rates=rates, first_message=firsts[1], last_answered_at=last)
    assert paid_score.total > unpaid_score.total


@given(
    weights=integer_weights,
    margin=st.integers(min_value=1, max_value=10),
    paid=paid_events,
    unpaid=unpaid_events,
    texts=st.tuples(texts, texts),
    age=ages,
)
def test_paid_dominates_whenever_paid_base_exceeds_the_unpaid_bonuses(
    *, weights: Weights, margin: int, paid: ChatEvent, unpaid: ChatEvent, texts: tuple[str, str], age: float
) -> None:
    bound = max(weights.membership, weights.gift) + weights.mention + weights.question + weights.first_message
    w = attrs.evolve(weights, paid_base=bound + margin)
    paid = attrs.evolve(paid, text=texts[0], received_at=100.0 - age)
    unpaid = attrs.evolve(unpaid, text=texts[1], author=paid.author, received_at=100.0 - age)
    assert rank(paid, weights=w).total > rank(unpaid, weights=w, first_message=True).total


def test_the_dominance_condition_is_needed() -> None:
    # One point less and the loudest unpaid message ties the cheapest paid one:
    # the condition above is not slack.
    w = Weights()
    w = attrs.evolve(w, paid_base=max(w.membership, w.gift) + w.mention + w.question + w.first_message)
    tiny = event(Kind.DONATION, "thanks", money("0.01", "XYZ"))  # unknown currency: paid_base alone
    loud = event(Kind.GIFT, "미라야 뭐 먹었어?")
    assert rank(tiny, weights=w).total == rank(loud, weights=w, first_message=True).total


amount_values = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**9), places=2)


@given(ev=paid_events, currency=st.sampled_from(sorted(DEFAULT_RATES)), values=st.tuples(amount_values, amount_values))
def test_a_larger_amount_never_scores_lower(ev: ChatEvent, currency: str, values: tuple[Decimal, Decimal]) -> None:
    small, large = sorted(values)
    lo = rank(attrs.evolve(ev, amount=money(str(small), currency)))
    hi = rank(attrs.evolve(ev, amount=money(str(large), currency)))
    assert hi.total >= lo.total


@given(
    ev=paid_events,
    a=st.tuples(amount_values, st.sampled_from(sorted(DEFAULT_RATES))),
    b=st.tuples(amount_values, st.sampled_from(sorted(DEFAULT_RATES))),
)
def test_amounts_compare_across_currencies_through_the_rate_table(
    ev: ChatEvent, a: tuple[Decimal, str], b: tuple[Decimal, str]
) -> None:
    ea, eb = (attrs.evolve(ev, amount=money(str(v), c)) for v, c in (a, b))
    usd_a, usd_b = (usd_value(money(str(v), c), DEFAULT_RATES) for v, c in (a, b))
    assert usd_a is not None and usd_b is not None
    assume(usd_a != usd_b)
    (low, _), (high, _) = sorted([(ea, usd_a), (eb, usd_b)], key=lambda pair: pair[1])
    assert rank(high).total >= rank(low).total
    # Only the amount part differs.
    assert [p for p in rank(high).parts if p[0] != "amount"] == [p for p in rank(low).parts if p[0] != "amount"]


def test_ten_thousand_won_against_five_dollars_follows_the_rates() -> None:
    won, dollars = event(Kind.DONATION, amount=money("10000", "KRW")), event(Kind.DONATION, amount=money("5", "USD"))
    assert usd_value(money("10000", "KRW"), DEFAULT_RATES) == Decimal("7.2")
    assert rank(won).total > rank(dollars).total
    weak_won = {**DEFAULT_RATES, "KRW": Decimal("0.0004")}  # ₩10,000 = $4
    assert rank(won, rates=weak_won).total < rank(dollars, rates=weak_won).total


def test_money_is_on_a_log_scale() -> None:
    five = part(rank(event(Kind.DONATION, amount=money("5", "USD"))), "amount")
    hundred = part(rank(event(Kind.DONATION, amount=money("100", "USD"))), "amount")
    assert five == pytest.approx(10 * math.log2(6))
    assert hundred == pytest.approx(10 * math.log2(101))
    assert hundred < 3 * five  # twenty times the money, under three times the points


def test_unknown_currency_still_gets_paid_base() -> None:
    s = rank(event(Kind.DONATION, amount=money("500", "XYZ")), now=100.0)
    assert s.parts == (("paid", 60.0),)
    assert s.total == 60.0
    # A sticker whose platform sent no amount is paid too.
    assert rank(event(Kind.STICKER)).parts == (("paid", 60.0),)


def test_usd_value() -> None:
    assert usd_value(money("1000", "JPY"), DEFAULT_RATES) == Decimal("6.7")
    assert usd_value(money("3", "krw"), DEFAULT_RATES) == Decimal("0.00216")  # codes are case-insensitive
    assert usd_value(money("3", "XYZ"), DEFAULT_RATES) is None
    assert usd_value(Amount(Decimal("NaN"), "USD", "?"), DEFAULT_RATES) is None


def test_default_rates_cover_common_super_chat_currencies() -> None:
    wanted = ["USD", "KRW", "JPY", "EUR", "GBP", "TWD", "CAD", "AUD", "PHP", "IDR", "MXN", "BRL", "INR", "HKD", "SGD"]
    assert set(wanted) <= set(DEFAULT_RATES)
    assert all(isinstance(r, Decimal) and r > 0 for r in DEFAULT_RATES.values())
    assert DEFAULT_RATES["KRW"] == Decimal("0.00072")
    assert DEFAULT_RATES["GBP"] > DEFAULT_RATES["EUR"] > DEFAULT_RATES["USD"] > DEFAULT_RATES["CAD"]


# ---- time and repetition ------------------------------------------------------------------


@given(
    ev=scorable_events,
    per_second=st.floats(min_value=0.01, max_value=100.0),
    now=clock,
    age=st.floats(min_value=0.0, max_value=3600.0),
    later=st.floats(min_value=1e-3, max_value=3600.0),
    last=last_answers,
)
def test_older_scores_strictly_lower(
    *, ev: ChatEvent, per_second: float, now: float, age: float, later: float, last: float | None
) -> None:
    w = attrs.evolve(Weights(), age_per_second=per_second)
    fresh = rank(attrs.evolve(ev, received_at=now - age), now=now, weights=w, last_answered_at=last)
    stale = rank(attrs.evolve(ev, received_at=now - age - later), now=now, weights=w, last_answered_at=last)
    assert stale.total < fresh.total


@given(ev=scorable_events, now=clock, ahead=st.floats(min_value=0.0, max_value=10.0))
def test_a_message_from_the_future_has_no_age(ev: ChatEvent, now: float, ahead: float) -> None:
    s = rank(attrs.evolve(ev, received_at=now + ahead), now=now)
    assert part(s, "age") is None
    assert s == rank(attrs.evolve(ev, received_at=now), now=now)


# Whole seconds, so "answered exactly `window` seconds ago" really occurs.
seconds = st.integers(min_value=0, max_value=400).map(float)


@given(ev=scorable_events, now=seconds, since=st.integers(-10, 400).map(float), window=seconds)
def test_recent_author_penalty_applies_iff_answered_within_the_window(
    ev: ChatEvent, now: float, since: float, window: float
) -> None:
    w = attrs.evolve(Weights(), recent_author_window=window)
    answered = rank(ev, now=now, weights=w, last_answered_at=now - since)
    never = rank(ev, now=now, weights=w, last_answered_at=None)
    within = since < window
    assert (part(answered, "recent_author") == -20.0) is within
    assert answered.total == pytest.approx(never.total - (20.0 if within else 0.0))


def test_the_window_edge() -> None:
    w = Weights()
    assert part(rank(event(), now=100.0, last_answered_at=100.0 - 599.9, weights=w), "recent_author") == -20.0
    assert part(rank(event(), now=100.0, last_answered_at=100.0 - 600.0, weights=w), "recent_author") is None


# ---- roles ---------------------------------------------------------------------------


@given(ev=scorable_events, roles=st.frozensets(st.sampled_from(Role)), weights=any_weights)
def test_role_bonuses_add_up_per_role_held(ev: ChatEvent, roles: frozenset[Role], weights: Weights) -> None:
    with_roles = rank(attrs.evolve(ev, author=attrs.evolve(ev.author, roles=roles)), weights=weights)
    without = rank(attrs.evolve(ev, author=attrs.evolve(ev.author, roles=frozenset())), weights=weights)
    bonus = {ROLE_PART[r]: getattr(weights, ROLE_PART[r]) for r in roles if getattr(weights, ROLE_PART[r])}
    assert {k: v for k, v in with_roles.parts if k in ROLE_PART.values()} == bonus
    assert with_roles.total == pytest.approx(without.total + sum(bonus.values()), rel=1e-12, abs=1e-9)


# ---- worked examples ----------------------------------------------------------------------


def test_a_member_super_chat_seven_seconds_old() -> None:
    ev = event(Kind.DONATION, "love the stream", money("5.00", "USD"), frozenset({Role.MEMBER}), received_at=93.0)
    s = rank(ev, now=100.0)
    assert s.parts == (
        ("paid", 60.0),
        ("amount", pytest.approx(25.849625)),
        ("member", 5.0),
        ("age", pytest.approx(-1.4)),
    )
    assert s.to_dict() == {"total": 89.45, "paid": 60.0, "amount": 25.85, "member": 5.0, "age": -1.4}


def test_a_regular_asking_mira_a_question() -> None:
    ev = event(
        Kind.CHAT, "미라야 오늘 뭐 먹었어? ㅋㅋ", roles=frozenset({Role.MODERATOR, Role.VERIFIED}), received_at=90.0
    )
    s = rank(ev, now=100.0, last_answered_at=40.0)
    assert s.to_dict() == {
        "total": 4.0,
        "moderator": 10.0,
        "verified": 2.0,
        "mention": 8.0,
        "question": 6.0,
        "age": -2.0,
        "recent_author": -20.0,
    }


def test_a_new_member_and_a_gift() -> None:
    assert rank(event(Kind.MEMBERSHIP), first_message=True).to_dict() == {
        "total": 24.0,
        "membership": 20.0,
        "first_message": 4.0,
    }
    assert rank(event(Kind.GIFT)).to_dict() == {"total": 25.0, "gift": 25.0}


def test_a_zero_weight_leaves_no_part() -> None:
    w = attrs.evolve(Weights(), member=0.0, age_per_second=0.0, question=0.0)
    s = rank(event(Kind.CHAT, "what game is this", roles=frozenset({Role.MEMBER}), received_at=0.0), weights=w)
    assert s == Score(total=0.0, parts=())
    # Each money part stands on its own weight.
    five = event(Kind.DONATION, amount=money("5", "USD"))
    assert [k for k, _ in rank(five, weights=attrs.evolve(w, paid_base=0.0)).parts] == ["amount"]
    assert [k for k, _ in rank(five, weights=attrs.evolve(w, paid_per_usd=0.0)).parts] == ["paid"]


def test_products_that_underflow_leave_no_part() -> None:
    # A subnormal weight times a tiny quantity rounds to 0.0: no ("age", -0.0).
    w = attrs.evolve(Weights(), paid_per_usd=5e-324, age_per_second=5e-324)
    s = rank(event(Kind.DONATION, amount=money("0.01", "IDR"), received_at=99.75), now=100.0, weights=w)
    assert s.parts == (("paid", 60.0),)


@pytest.mark.parametrize("value", ["0", "-5", "Infinity", "NaN"])
def test_a_malformed_amount_gets_paid_base_only(value: str) -> None:
    assert rank(event(Kind.DONATION, amount=money(value, "USD"))).parts == (("paid", 60.0),)


def test_an_absurd_amount_stays_finite() -> None:
    s = rank(event(Kind.DONATION, amount=money("1e400", "USD")))
    assert math.isfinite(s.total)
    assert part(s, "amount") == pytest.approx(10 * 1024)


# ---- weights validation -------------------------------------------------------------------


@pytest.mark.parametrize("name", WEIGHT_NAMES)
@pytest.mark.parametrize("bad", [-1.0, -1e-9, math.nan, math.inf])
def test_weights_reject_negative_and_non_finite(name: str, bad: float) -> None:
    with pytest.raises(ValueError, match=rf"Weights\.{name}\b"):
        Weights(**{name: bad})
    with pytest.raises(ValueError, match=rf"Weights\.{name}\b"):
        attrs.evolve(Weights(), **{name: bad})


@pytest.mark.parametrize("name", WEIGHT_NAMES)
def test_weights_accept_zero_and_reject_non_numbers(name: str) -> None:
    assert getattr(Weights(**{name: 0}), name) == 0
    with pytest.raises(TypeError, match=rf"Weights\.{name}\b"):
        Weights(**{name: "5"})


# ---- questions -------------------------------------------------------------------------

QUESTIONS = [
    "미라는 비 오는 거 좋아해?",
    "뭐 먹었어",
    "오늘 뭐 했어 ㅋㅋ",
    "밥 먹었니",
    "이거 무슨 게임이에요",
    "몇 시에 끝나요",
    "어디 살아",
    "왜 그래 ㅠㅠ",
    "이 게임 재밌나요",
    "같이 할까요",
    "그게 사실입니까",
    "이거 뭐하냐 ㅋㅋㅋ",
    "오늘 날씨 어때",
    "이게 맞는 건가요",
    "얼마나 걸려요",
    "누가 이겼어？",
    "what game is this",
    "WHAT GAME IS THIS",
    "ｗｈａｔ ｇａｍｅ ｉｓ ｔｈｉｓ",
    "Mira, what's your favorite food",
    "hey how are you",
    "do you like cats",
    "is this minecraft",
    "lol what are you doing",
    "Can you sing a song",
    "how many hours left",
    "how's it going",
    "where are you from",
    "r u ok",
    "nice play! how did you do that",
    "@mira can i join",
    "really?",
]

NOT_QUESTIONS = [
    "lol",
    "ㅋㅋㅋ",
    "ㅋㅋㅋㅋㅋㅋㅋ",
    "gg",
    "hi mira",
    "미라 안녕",
    "첫 방송 축하해요",
    "언니 사랑해",
    "우리 어머니 ㅋㅋ",
    "아니",
    "그러니까",
    "비 오니까 좋다",
    "아까 봤어",
    "집에 가요",
    "누구나 할 수 있어",
    "언제나 응원해",
    "왜냐하면 재밌으니까",
    "뭔가 이상해",
    "what a play",
    "how cute",
    "do it",
    "can't wait",
    "I know what you did",
    "love this song",
    "good morning everyone",
    "🎉🎉🎉",
    "",
]


@pytest.mark.parametrize("line", QUESTIONS)
def test_questions(line: str) -> None:
    assert is_question(line)


@pytest.mark.parametrize("line", NOT_QUESTIONS)
def test_not_questions(line: str) -> None:
    assert not is_question(line)


# ---- mentions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi mira!", True),
        ("MIRA MIRA MIRA", True),
        ("ＭＩＲＡ", True),  # full-width, NFKC
        ("mira's stream is cozy", True),
        ("@Mira hello", True),
        ("mira야 안녕", True),  # a Korean particle after the Latin name
        ("Miranda is here", False),
        ("amira", False),
        ("mira_fan", False),
        ("미라야 안녕", True),
        ("미라는 뭐 좋아해", True),
        ("오늘 미라님 귀여워", True),
        ("mi ra", False),
        ("hello everyone", False),
        ("", False),
    ],
)
def test_mentions(text: str, expected: bool) -> None:
    assert mentions(text, ["Mira", "미라"]) is expected


def test_mention_names_are_normalised_too() -> None:
    assert mentions("hi mira", ["ＭＩＲＡ"])
    assert mentions("Mira쨩 최고", ["mira쨩"])
    assert not mentions("anything", [])
    assert not mentions("anything", ["", "  "])


around = st.text(alphabet="abc xyz가나다 !?🎉", max_size=10)


@given(before=around, after=around, name=st.sampled_from(["Mira", "Hana", "미라", "하나", "Mira쨩"]))
def test_a_name_standing_alone_is_always_found(before: str, after: str, name: str) -> None:
    assert mentions(f"{before} {name.upper()} {after}", [name])


@pytest.mark.parametrize("line", ["밥 먹었니 ㅋㅋ", "아 도쿄 사람 있나요ㅋㅋㅋㅋ", "먹을까요 ㅎㅎ", "인가요 ㅠㅠ"])
def test_a_korean_question_with_trailing_laughter_is_a_question(line: str) -> None:
    """Found by bench/selection.py: NFKC turns a typed ㅋ (compatibility jamo)
    into a conjoining jamo, which the trailing-laughter rule did not expect."""
    assert is_question(line)
