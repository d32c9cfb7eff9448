"""Parsing YouTube liveChatMessages.list pages: the real-shaped samples, and
generated pages where every item becomes exactly one event or one skip."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.chat import Kind, Role
from actors.monitors.common.retry import parse_retry_after
from actors.monitors.youtube.api import (
    ApiError,
    JsonArrayReader,
    PageError,
    Skip,
    fresh_events,
    live_chat_id_of,
    parse_error,
    parse_item,
    parse_page,
)
from actors.monitors.youtube.quota import LIST_COST, QuotaPlanner, answer_cost, next_reset, quota_day
from actors.monitors.youtube.state import StreamGate
from actors.router.filters import BoundedLRU

SAMPLES = Path(__file__).parent / "data" / "yt_samples"


def sample(name: str) -> dict:
    return json.loads((SAMPLES / f"pytchat__compatible_API_{name}.json").read_text("utf-8"))


def test_the_text_message_sample():
    page = parse_page(sample("TextMessage"))
    assert len(page.events) == 1 and not page.skipped
    event = page.events[0]
    assert event.kind is Kind.CHAT and event.text and event.author.id.startswith("UC")
    assert page.polling_interval is not None and page.next_page_token


def test_the_super_chat_sample_is_an_exact_decimal():
    event = parse_page(sample("SuperChat")).events[0]
    assert event.kind is Kind.DONATION
    assert event.amount is not None
    assert event.amount.value == Decimal("200") and event.amount.currency == "JPY" and event.amount.display == "¥200"
    assert event.text == "888"


def test_the_new_sponsor_sample_has_no_details_object_and_still_counts():
    event = parse_page(sample("NewSponsor")).events[0]
    assert event.kind is Kind.MEMBERSHIP


# ---- generated pages -----------------------------------------------------------------------

T0 = datetime(2026, 11, 24, 17, tzinfo=UTC)


def base(item_id: str, kind: str, at: int, **snippet) -> dict:
    return {
        "kind": "youtube#liveChatMessage",
        "etag": "e",
        "id": item_id,
        "snippet": {
            "type": kind,
            "liveChatId": "Cg0KC",
            "authorChannelId": "UCa",
            "publishedAt": (T0 + timedelta(seconds=at)).isoformat().replace("+00:00", "Z"),
            "hasDisplayContent": True,
            **snippet,
        },
        "authorDetails": {
            "channelId": "UCa",
            "channelUrl": "http://www.youtube.com/channel/UCa",
            "displayName": "Alice",
            "profileImageUrl": "https://yt3.ggpht.com/x",
            "isVerified": False,
            "isChatOwner": False,
            "isChatSponsor": True,
            "isChatModerator": at % 2 == 0,
        },
    }


GOOD = {
    "textMessageEvent": (Kind.CHAT, {"textMessageDetails": {"messageText": "hi"}}),
    "superChatEvent": (
        Kind.DONATION,
        {"superChatDetails": {"amountMicros": "1750000", "currency": "USD", "amountDisplayString": "$1.75",
                              "userComment": "love it", "tier": 2}},
    ),
    "superStickerEvent": (
        Kind.STICKER,
        {"superStickerDetails": {"superStickerMetadata": {"stickerId": "s", "altText": "a", "language": "en"},
                                 "amountMicros": "2000000", "currency": "EUR", "amountDisplayString": "€2.00",
                                 "tier": 1}},
    ),
    "newSponsorEvent": (Kind.MEMBERSHIP, {"newSponsorDetails": {"memberLevelName": "M", "isUpgrade": False}}),
    "memberMilestoneChatEvent": (
        Kind.MEMBERSHIP, {"memberMilestoneChatDetails": {"userComment": "3 months!", "memberMonth": 3}}
    ),
    "membershipGiftingEvent": (Kind.GIFT, {"membershipGiftingDetails": {"giftMembershipsCount": 5}}),
    "giftMembershipReceivedEvent": (Kind.GIFT, {"giftMembershipReceivedDetails": {"gifterChannelId": "UCb"}}),
    "messageDeletedEvent": (Kind.MODERATION, {"messageDeletedDetails": {"deletedMessageId": "LCC.x"}}),
    "userBannedEvent": (
        Kind.MODERATION,
        {"userBannedDetails": {"bannedUserDetails": {"channelId": "UCbad", "displayName": "b"},
                               "banType": "permanent"}},
    ),
}  # fmt: skip

SKIPPED = {"tombstone": None, "pollEvent": None, "chatEndedEvent": None, "someFutureEvent": None}

items = st.lists(
    st.tuples(
        st.sampled_from([*GOOD, *SKIPPED]),
        st.sampled_from(["ok", "ok", "ok", "no_author", "bad_time", "wrong_micros", "not_object"]),
    ),
    max_size=30,
)


def make_item(i: int, kind: str, fault: str) -> object:
    if fault == "not_object":
        return ["not", "an", "item"]
    extra = GOOD.get(kind, (None, {}))[1]
    item = base(f"LCC.{i}", kind, i, **json.loads(json.dumps(extra)))
    if fault == "no_author":
        del item["authorDetails"]
    elif fault == "bad_time":
        item["snippet"]["publishedAt"] = "yesterday"
    elif fault == "wrong_micros" and kind == "superChatEvent":
        item["snippet"]["superChatDetails"]["amountMicros"] = 1750000  # a number: precision may be gone
    return item


@given(items)
def test_every_item_becomes_exactly_one_event_or_one_skip_in_order(spec):
    body = {"kind": "youtube#liveChatMessageListResponse", "nextPageToken": "t", "pollingIntervalMillis": 2000}
    body["items"] = [make_item(i, kind, fault) for i, (kind, fault) in enumerate(spec)]
    page = parse_page(body, received_at=5.0)
    assert len(page.events) + len(page.skipped) == len(spec)
    assert len(page.item_ids) == len(spec)
    # order kept: the events appear in page order
    positions = [page.item_ids.index(e.id) for e in page.events]
    assert positions == sorted(positions)
    for event in page.events:
        kind, fault = spec[int(event.id.split(".")[1])]
        assert fault == "ok" or (fault == "wrong_micros" and kind != "superChatEvent")
        assert event.kind is GOOD[kind][0]
        assert event.received_at == 5.0
        assert Role.MEMBER in event.author.roles
    assert page.chat_ended == any(kind == "chatEndedEvent" and fault != "not_object" for kind, fault in spec)


def test_every_type_maps_as_the_issue_says():
    for i, (kind, (expected, extra)) in enumerate(GOOD.items()):
        event = parse_item(base(f"id{i}", kind, i, **extra))
        assert not isinstance(event, Skip), (kind, event)
        assert event.kind is expected
    deleted = parse_item(base("d", "messageDeletedEvent", 0, **GOOD["messageDeletedEvent"][1]))
    banned = parse_item(base("b", "userBannedEvent", 0, **GOOD["userBannedEvent"][1]))
    assert not isinstance(deleted, Skip) and deleted.target is not None and deleted.target.message_id == "LCC.x"
    assert not isinstance(banned, Skip) and banned.target is not None and banned.target.author_id == "UCbad"
    sc = parse_item(base("s", "superChatEvent", 0, **GOOD["superChatEvent"][1]))
    assert not isinstance(sc, Skip) and sc.amount is not None and sc.amount.value == Decimal("1.75")


@pytest.mark.parametrize("body", [None, [], "text", {"items": {}}, {"items": [], "nextPageToken": 5}], ids=repr)
def test_a_malformed_page_is_refused_whole(body):
    with pytest.raises(PageError):
        parse_page(body)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=20))  # fmt: skip
def test_parsing_any_json_either_works_or_says_page_error(body):
    try:
        parse_page(body)
    except PageError:
        pass
    if isinstance(body, dict):
        parse_error(403, body)  # never raises


def test_errors_by_reason_not_message():
    detail = {"message": "x", "domain": "youtube.liveChat", "reason": "liveChatEnded"}
    body = {"error": {"code": 403, "message": "The live chat is no longer live.", "errors": [detail]}}
    error = parse_error(403, body)
    assert isinstance(error, ApiError)
    assert (error.status, error.reason, error.message) == (403, "liveChatEnded", "The live chat is no longer live.")
    assert parse_error(500, None).reason == "http500"
    wrong_key = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                           "errors": [{"reason": "badRequest", "domain": "global"}], "status": "INVALID_ARGUMENT",
                           "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                        "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}  # fmt: skip
    assert parse_error(400, wrong_key).details == ("API_KEY_INVALID",)


def test_videos_list_gives_the_active_chat_id():
    live = {"items": [{"liveStreamingDetails": {"activeLiveChatId": "Cg0", "actualStartTime": "x"}}]}
    ended = {"items": [{"liveStreamingDetails": {"actualEndTime": "y"}}]}
    assert live_chat_id_of(live) == ("Cg0", False)
    assert live_chat_id_of(ended) == (None, True)
    assert live_chat_id_of({"items": []}) == (None, False)


# ---- the quota planner ------------------------------------------------------------------------


def test_the_planned_interval_lasts_the_stream():
    planner = QuotaPlanner(daily_quota=10_000, stream_hours=8.0, reserve=50)
    now = datetime(2026, 11, 24, 17, tzinfo=UTC)
    interval = planner.interval(0.0, 2.0, now)
    assert interval == pytest.approx(8 * 3600 * LIST_COST / 9_950)  # about 14.5 s, not the 2 s hint
    assert 8 * 3600 / interval * LIST_COST <= 10_000 - 50


@given(st.floats(0, 20 * 3600), st.integers(0, 10_000), st.floats(0.1, 60) | st.none())
def test_never_sooner_than_the_servers_hint(live_for, used, hint):
    planner = QuotaPlanner(used=used, day=quota_day(T0))
    assert planner.interval(live_for, hint, T0) >= (hint or 0.0)


def test_the_quota_day_turns_at_midnight_pacific():
    late = datetime(2026, 11, 25, 7, 59, tzinfo=UTC)  # 23:59 PST
    assert next_reset(late) == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    planner = QuotaPlanner(daily_quota=100)
    planner.charge(100, late)
    assert not planner.can_spend(5, late)
    assert planner.wait_for_units(5, late) == pytest.approx(60.0)
    assert planner.can_spend(5, late + timedelta(minutes=2))


# ---- never twice: pages, reconnects and backlog skips ---------------------------------------

# A fetch: ("poll", new) - new messages arrive and the next page (with the
# token) returns them; ("reconnect", k) - the monitor restarts without a
# token: the API returns up to k recent messages again, and that first page
# is backlog (remembered, not emitted).
fetches = st.lists(
    st.tuples(st.just("poll"), st.integers(0, 6)) | st.tuples(st.just("reconnect"), st.integers(0, 10)),
    max_size=40,
)


@given(fetches, st.booleans())
def test_no_message_is_emitted_twice_and_order_is_kept(plan, skip_backlog):
    seen: BoundedLRU[str, bool] = BoundedLRU(10_000)
    stream: list[dict] = []
    emitted: list[str] = []
    first_seen_in_live_page: list[str] = []
    ever: set[str] = set()
    position = 0
    for kind, n in plan:
        if kind == "poll":
            stream += [base(f"LCC.{len(stream) + i}", "textMessageEvent", len(stream) + i,
                            **GOOD["textMessageEvent"][1]) for i in range(n)]  # fmt: skip
            window, backlog = stream[position:], False
        else:
            window, backlog = stream[max(0, len(stream) - n) :], skip_backlog
        position = len(stream)
        page = parse_page({"items": window})
        fresh = fresh_events(page, seen)
        if not backlog:
            emitted += [e.id for e in fresh]
            first_seen_in_live_page += [i for i in page.item_ids if i not in ever]
        ever |= set(page.item_ids)
    assert len(emitted) == len(set(emitted))
    order = [int(i.split(".")[1]) for i in emitted]
    assert order == sorted(order)
    assert emitted == first_seen_in_live_page


@given(
    st.lists(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3), max_size=6),
    st.lists(st.integers(1, 40), max_size=20),
    st.sampled_from(["", " ", "\n"]),
)
def test_the_stream_reader_yields_each_element_however_the_body_is_cut(elements, cuts, gap):
    body = "[" + f",{gap}".join(json.dumps(e, ensure_ascii=False) for e in elements) + "]"
    reader = JsonArrayReader()
    got: list[object] = []
    position = 0
    for cut in cuts:
        got += reader.feed(body[position : position + cut])
        position += cut
    got += reader.feed(body[position:])
    assert got == elements
    assert reader.closed


# ---- what an answer costs, Retry-After, a spent quota, the stream gate ---------------------------


@pytest.mark.parametrize(
    ("status", "reason", "from_api", "key_refused", "units"),
    [
        (200, "", True, False, 5),
        (503, "backendError", True, False, 5),  # the method ran: its price
        (403, "liveChatEnded", True, False, 5),
        (403, "rateLimitExceeded", True, False, 5),
        (400, "pageTokenInvalid", True, False, 1),  # an invalid request: at least one point
        (403, "quotaExceeded", True, False, 0),  # refused before anything ran
        (400, "badRequest", True, True, 0),  # API_KEY_INVALID: no project to charge
        (401, "authError", True, False, 0),
        (404, "http404", False, False, 0),  # the front end's HTML page: no API method ran
    ],
)
def test_each_answer_costs_what_the_reference_says(status, reason, from_api, key_refused, units):
    assert answer_cost(5, status, reason, from_api=from_api, key_refused=key_refused) == units


def test_retry_after_in_seconds_or_as_a_date():
    now = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Tue, 24 Nov 2026 17:00:30 GMT", now) == 30.0
    assert parse_retry_after("Tue, 24 Nov 2026 16:00:00 GMT", now) == 0.0  # in the past: at once
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None
    assert parse_retry_after("999999", now) == 86_400.0
    error = parse_error(503, {"error": {"code": 503, "errors": [{"reason": "backendError"}]}}, retry_after=7.0)
    assert error.retry_after == 7.0 and error.from_api
    assert not parse_error(404, None).from_api


@given(st.integers(0, 10_000), st.integers(0, 15 * 3600 - 1))
def test_a_spent_quota_leaves_nothing_until_the_reset_whatever_our_count(used, after):
    planner = QuotaPlanner(used=used)
    now = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # 09:00 Pacific
    planner.charge(0, now)
    until = planner.exhausted(now)
    later = now + timedelta(seconds=after)
    assert planner.left(later) == 0 and planner.is_exhausted(later) and not planner.can_spend(1, later)
    assert planner.left(until) == planner.daily_quota  # a new day


@given(st.lists(st.floats(0, 30), max_size=30))
def test_the_gate_falls_back_only_after_three_short_closes_in_a_row(lasted):
    now = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    gate = StreamGate(short_after=5.0, short_limit=3, fallback_for=600.0)
    in_row = 0
    for seconds in lasted:
        if not gate.streaming(now):
            break
        in_row = in_row + 1 if seconds < 5.0 else 0
        reason = gate.closed(seconds, now)
        assert (reason is not None) == (in_row == 3)
    fell = not gate.streaming(now)
    assert fell == (gate.fallbacks == 1)
    if fell:
        assert not gate.expired(now + timedelta(seconds=599))
        assert gate.expired(now + timedelta(seconds=600)) and gate.streaming(now + timedelta(seconds=600))
        assert not gate.expired(now + timedelta(seconds=601))  # said once


def test_hostile_names_and_amounts_are_cleaned_where_they_enter():
    """The boundary's one cleaning applies to YouTube too: escapes and bidi
    controls out of a name, and an amount past any real Super Chat is a skip."""
    item = base("LCC.h1", "textMessageEvent", 1, textMessageDetails={"messageText": "hi\u202e"})
    item["authorDetails"]["displayName"] = "\x1b]0;pwned\x07\u202enimda"
    event = parse_item(item)
    assert not isinstance(event, Skip)
    assert event.author.name == "]0;pwned nimda" and event.text == "hi"
    huge = base(
        "LCC.h2",
        "superChatEvent",
        2,
        superChatDetails={"amountMicros": "9" * 40, "currency": "USD", "amountDisplayString": "$∞", "tier": 1},
    )
    skipped = parse_item(huge)
    assert isinstance(skipped, Skip) and "beyond any real donation" in skipped.reason


def test_a_time_out_of_range_costs_its_item_only():
    item = base("LCC.t1", "textMessageEvent", 1, textMessageDetails={"messageText": "hi"})
    item["snippet"]["publishedAt"] = "0001-01-01T00:00:00+05:00"
    page = parse_page({"items": [item, base("LCC.t2", "textMessageEvent", 2, **GOOD["textMessageEvent"][1])]})
    assert [e.id for e in page.events] == ["LCC.t2"]
    assert [s.item_id for s in page.skipped] == ["LCC.t1"] and "out of range" in page.skipped[0].reason
