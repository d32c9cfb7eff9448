"""Twitch EventSub and OAuth parsing: the documented examples (reference
shared/reference/twitch.md), generated events mapped onto the chat model,
and hostile frames that must end in a PayloadError, a ChatEvent or a Skip,
never anything else. Pure code: time is plain floats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.boundary import ANONYMOUS, clean_event, clean_name, clean_text
from actors.chat import Author, ChatEvent, Kind, Platform, Role
from actors.monitors.twitch.api import (
    CLOSE_TABLE,
    CloseAction,
    DeviceCode,
    Keepalive,
    Notification,
    PayloadError,
    Reconnect,
    Revocation,
    TokenPair,
    TwitchApiError,
    Unknown,
    Validated,
    Welcome,
    api_error,
    close_action,
    close_reason,
    device_poll_outcome,
    parse_device_code,
    parse_frame,
    parse_timestamp,
    parse_token,
    parse_validate,
)
from actors.monitors.twitch.events import (
    ANONYMOUS_ID,
    BADGE_ROLES,
    DEDUPE_TTL,
    Deduper,
    Skip,
    is_stale,
    to_chat_event,
)
from actors.router.text import is_emoji_only
from strategies import (
    hostile_text,
    json_values,
    twitch_chat_messages,
    twitch_community_gifts,
    twitch_fragment,
    twitch_frame,
    twitch_mutations,
    twitch_notice,
    twitch_uuids,
)

BROADCASTER = "1971641"
WALL = datetime(2026, 7, 22, 13, 50, tzinfo=UTC)

# ---- the documented examples (reference §2.3, §4.1) ------------------------------------------------

WELCOME = (
    '{"metadata":{"message_id":"96a3f3b5-5dec-4eed-908e-e11ee657416c","message_type":"session_welcome",'
    '"message_timestamp":"2023-07-19T14:56:51.634234626Z"},"payload":{"session":{"id":"AQoQILE98gtqShGmLD7AM6yJThAB",'
    '"status":"connected","connected_at":"2023-07-19T14:56:51.616329898Z","keepalive_timeout_seconds":10,'
    '"reconnect_url":null}}}'
)
KEEPALIVE = (
    '{"metadata":{"message_id":"84c1e79a-2a4b-4c13-ba0b-4312293e9308","message_type":"session_keepalive",'
    '"message_timestamp":"2023-07-19T10:11:12.634234626Z"},"payload":{}}'
)
RECONNECT = (
    '{"metadata":{"message_id":"84c1e79a-2a4b-4c13-ba0b-4312293e9308","message_type":"session_reconnect",'
    '"message_timestamp":"2022-11-18T09:10:11.634234626Z"},"payload":{"session":{"id":"AQoQexAWVYKSTIu4ec_2VAxyuhAB",'
    '"status":"reconnecting","keepalive_timeout_seconds":null,'
    '"reconnect_url":"wss://eventsub.wss.twitch.tv?challenge=1b2c&id=AQoQexAW","connected_at":"2022-11-16T10:11:12.634234626Z"}}}'
)
REVOCATION = (
    '{"metadata":{"message_id":"84c1e79a-2a4b-4c13-ba0b-4312293e9308","message_type":"revocation",'
    '"message_timestamp":"2022-11-16T10:11:12.464757833Z","subscription_type":"channel.follow",'
    '"subscription_version":"1"},"payload":{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4",'
    '"status":"authorization_revoked","type":"channel.follow","version":"1","cost":1,'
    '"condition":{"broadcaster_user_id":"12826"},"transport":{"method":"websocket",'
    '"session_id":"AQoQexAWVYKSTIu4ec_2VAxyuhAB"},"created_at":"2022-11-16T10:11:12.464757833Z"}}}'
)
DOC_CHAT_EVENT: dict[str, Any] = {
    "broadcaster_user_id": "1971641",
    "broadcaster_user_login": "streamer",
    "broadcaster_user_name": "streamer",
    "chatter_user_id": "4145994",
    "chatter_user_login": "viewer32",
    "chatter_user_name": "viewer32",
    "message_id": "cc106a89-1814-919d-454c-f4f2f970aae7",
    "message": {
        "text": "Hi chat",
        "fragments": [{"type": "text", "text": "Hi chat", "cheermote": None, "emote": None, "mention": None}],
    },
    "color": "#00FF7F",
    "badges": [
        {"set_id": "moderator", "id": "1", "info": ""},
        {"set_id": "subscriber", "id": "12", "info": "16"},
        {"set_id": "sub-gifter", "id": "1", "info": ""},
    ],
    "message_type": "text",
    "cheer": None,
    "reply": None,
    "channel_points_custom_reward_id": None,
}


def frame(event: dict[str, Any], sub_type: str = "channel.chat.message", *, message_id: str = "m-1") -> str:
    return json.dumps(twitch_frame(event, sub_type=sub_type, message_id=message_id))


def convert(text: str | dict[str, Any], *, shared_chat: bool = False) -> ChatEvent | Skip:
    parsed = parse_frame(text if isinstance(text, str) else json.dumps(text))
    return to_chat_event(
        parsed, broadcaster_id=BROADCASTER, received_at=7.0, received_wall=WALL, shared_chat=shared_chat
    )


def chat_event(text: str | dict[str, Any], **kwargs: Any) -> ChatEvent:
    outcome = convert(text, **kwargs)
    assert isinstance(outcome, ChatEvent), outcome
    return outcome


def skip(text: str | dict[str, Any], **kwargs: Any) -> Skip:
    outcome = convert(text, **kwargs)
    assert isinstance(outcome, Skip), outcome
    return outcome


def test_the_documented_welcome():
    welcome = parse_frame(WELCOME)
    assert isinstance(welcome, Welcome)
    assert welcome.session_id == "AQoQILE98gtqShGmLD7AM6yJThAB"
    assert welcome.keepalive_timeout_seconds == 10 and welcome.reconnect_url is None
    assert welcome.metadata.message_id == "96a3f3b5-5dec-4eed-908e-e11ee657416c"
    assert welcome.metadata.timestamp == datetime(2023, 7, 19, 14, 56, 51, 634234, tzinfo=UTC)  # ns truncated
    assert welcome.metadata.subscription_type is None


def test_the_documented_keepalive_reconnect_and_revocation():
    assert isinstance(parse_frame(KEEPALIVE.encode()), Keepalive)
    reconnect = parse_frame(RECONNECT)
    assert isinstance(reconnect, Reconnect)
    assert reconnect.reconnect_url == "wss://eventsub.wss.twitch.tv?challenge=1b2c&id=AQoQexAW"  # as is
    revocation = parse_frame(REVOCATION)
    assert isinstance(revocation, Revocation)
    assert revocation.subscription_id == "f1c2a387-161a-49f9-a165-0f21d7a4e1c4"
    assert (revocation.subscription_type, revocation.status) == ("channel.follow", "authorization_revoked")


def test_the_documented_chat_message():
    parsed = parse_frame(frame(DOC_CHAT_EVENT))
    assert isinstance(parsed, Notification)
    assert parsed.subscription_type == "channel.chat.message" and parsed.subscription_version == "1"
    assert parsed.subscription_id == "0b7f3361-672b-4d39-b307-dd5b576c9b27"
    chat = chat_event(frame(DOC_CHAT_EVENT))
    assert chat.platform is Platform.TWITCH and chat.kind is Kind.CHAT
    assert chat.id == "cc106a89-1814-919d-454c-f4f2f970aae7"
    assert chat.author == Author("4145994", "viewer32", frozenset({Role.MODERATOR, Role.MEMBER}))
    assert chat.text == "Hi chat" and chat.amount is None and chat.received_at == 7.0
    assert chat.sent_at == datetime(2023, 7, 19, 14, 56, 51, 634234, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2023-07-19T14:56:51.634234626Z", datetime(2023, 7, 19, 14, 56, 51, 634234, tzinfo=UTC)),
        ("2023-07-19T14:56:51Z", datetime(2023, 7, 19, 14, 56, 51, tzinfo=UTC)),
        ("2023-07-19T16:56:51.5+02:00", datetime(2023, 7, 19, 14, 56, 51, 500000, tzinfo=UTC)),
        ("2020-11-10T20:08:464757833Z", None),  # a malformed doc example
        ("2023-13-19T14:56:51Z", None),
        ("0001-01-01T00:00:00+05:00", None),  # before year 1 in UTC
        ("yesterday", None),
        (None, None),
        (12, None),
    ],
)
def test_timestamps_are_read_leniently(stamp, expected):
    assert parse_timestamp(stamp) == expected


def test_a_malformed_timestamp_falls_back_to_the_wall_clock():
    text = frame(DOC_CHAT_EVENT).replace("2023-07-19T14:56:51.634234626Z", "2020-11-10T20:08:464757833Z")
    assert chat_event(text).sent_at == WALL


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not JSON"),
        ("[1]", "not an object"),
        ('{"payload":{}}', "no metadata"),
        ('{"metadata":{"message_id":"a"}}', "no message_type"),
        ('{"metadata":{"message_type":"session_keepalive"}}', "no message_id"),
        ('{"metadata":{"message_id":"a","message_type":"session_welcome"},"payload":{}}', "no session"),
        (
            '{"metadata":{"message_id":"a","message_type":"session_reconnect"},'
            '"payload":{"session":{"reconnect_url":"https://x"}}}',
            "not a WebSocket URL",
        ),
        ('{"metadata":{"message_id":"a","message_type":"notification"},"payload":{"subscription":{}}}', "no id"),
        (b"\xff", "not JSON"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_frames_raise_payload_error_with_a_short_reason(text, reason):
    with pytest.raises(PayloadError, match=reason) as caught:
        parse_frame(text)
    assert len(str(caught.value)) < 100


def test_unknown_message_types_are_kept_to_ignore():
    parsed = parse_frame('{"metadata":{"message_id":"a","message_type":"session_party","new":1},"payload":7}')
    assert isinstance(parsed, Unknown) and parsed.metadata.message_type == "session_party"


# ---- hostile frames ---------------------------------------------------------------------------------

_DOC_FRAMES = [json.loads(f) for f in (WELCOME, KEEPALIVE, RECONNECT, REVOCATION, frame(DOC_CHAT_EVENT))] + [
    twitch_frame(
        twitch_notice("sub_gift", {"community_gift_id": "9"}), sub_type="channel.chat.notification", message_id="x"
    ),
    twitch_frame(
        twitch_notice(
            "charity_donation", {"charity_name": "c", "amount": {"value": 550, "decimal_place": 2, "currency": "USD"}}
        ),
        sub_type="channel.chat.notification",
        message_id="y",
    ),
    twitch_frame(
        {"broadcaster_user_id": BROADCASTER, "target_user_id": "5", "message_id": "m"},
        sub_type="channel.chat.message_delete",
        message_id="z",
    ),
]


def _survives(text: str | bytes) -> None:
    try:
        parsed = parse_frame(text)
    except PayloadError as exc:
        assert str(exc) and len(str(exc)) < 200
        return
    for shared in (False, True):
        outcome = to_chat_event(
            parsed, broadcaster_id=BROADCASTER, received_at=1.0, received_wall=WALL, shared_chat=shared
        )
        assert isinstance(outcome, ChatEvent | Skip)
        if isinstance(outcome, ChatEvent):
            assert clean_event(outcome) == (outcome, None)  # already clean: cleaning changes nothing
            assert outcome.id and outcome.author.id and outcome.author.name
            assert outcome.sent_at.tzinfo is UTC


@given(st.sampled_from(_DOC_FRAMES).flatmap(twitch_mutations))
def test_mutated_documented_frames_end_in_payload_error_chat_event_or_skip(mutated):
    _survives(json.dumps(mutated))


@given(json_values | hostile_text)
def test_any_json_or_text_ends_in_payload_error_or_a_frame(value):
    _survives(json.dumps(value))
    if isinstance(value, str):
        _survives(value)
        _survives(value.encode("utf-8", "surrogatepass"))


@given(twitch_chat_messages(), hostile_text, hostile_text)
def test_hostile_names_and_texts_come_out_clean(event, name, text):
    event["chatter_user_name"] = name
    event["message"] = {"text": text, "fragments": [twitch_fragment("text", text)]}
    _survives(frame(event))


# ---- chat messages ----------------------------------------------------------------------------------


@given(twitch_chat_messages())
def test_a_chat_message_round_trips(event):
    chat = chat_event(frame(event))
    assert chat.id == event["message_id"] and chat.author.id == event["chatter_user_id"]
    display = event["chatter_user_name"]
    assert chat.author.name == clean_name(display if clean_name(display, fallback="") else event["chatter_user_login"])
    expected_roles = {BADGE_ROLES[b["set_id"]] for b in event["badges"] if BADGE_ROLES.get(b["set_id"])}
    assert chat.author.roles == expected_roles
    bits = (event["cheer"] or {}).get("bits")
    assert chat.kind is (Kind.DONATION if bits else Kind.CHAT) and (chat.amount is not None) == bool(bits)
    kept = [f for f in event["message"]["fragments"] if f["type"] != "cheermote"]
    words = [f["text"] for f in kept if f["type"] != "emote"]
    assert chat.text == clean_text(chat.text)  # cleaned, so cleaning again changes nothing
    assert all(clean_text(w) in chat.text for w in words)
    if any(f["type"] == "emote" for f in kept) and not "".join(words).strip():
        assert is_emoji_only(chat.text), chat.text  # the router files it as emoji_only


@pytest.mark.parametrize(
    ("fragments", "text", "emoji_only"),
    [
        ([("emote", "Kappa")], ":Kappa:", True),
        ([("emote", "Kappa"), ("text", " "), ("emote", "cohhLUL")], ":Kappa: :cohhLUL:", True),
        ([("emote", ":)"), ("text", " "), ("emote", "<3")], ":emote: :emote:", True),
        ([("text", "hi "), ("emote", "LUL")], "hi :LUL:", False),
        ([("text", "hi "), ("emote", "<3")], "hi <3", False),
        ([("cheermote", "Cheer100"), ("text", " great stream")], "great stream", False),
        ([("cheermote", "Cheer100"), ("text", " "), ("emote", "Kappa")], ":Kappa:", True),
        ([("mention", "@bob"), ("text", " hi")], "@bob hi", False),
    ],
)
def test_emotes_and_cheermotes(fragments, text, emoji_only):
    event = dict(DOC_CHAT_EVENT)
    made = [twitch_fragment(kind, t) for kind, t in fragments]
    event["message"] = {"text": "".join(t for _, t in fragments), "fragments": made}
    chat = chat_event(frame(event))
    assert chat.text == text
    assert is_emoji_only(chat.text) is emoji_only


def test_unusable_fragments_fall_back_to_the_text():
    event = dict(DOC_CHAT_EVENT, message={"text": "plain words", "fragments": [{"type": 3}]})
    assert chat_event(frame(event)).text == "plain words"


@pytest.mark.parametrize(("set_id", "role"), [*BADGE_ROLES.items(), ("sub-gifter", None), ("bits", None)])
def test_the_roles_table(set_id, role):
    event = dict(DOC_CHAT_EVENT, badges=[{"set_id": set_id, "id": "1", "info": ""}])
    assert chat_event(frame(event)).author.roles == (frozenset() if role is None else frozenset({role}))


def test_vip_is_a_role_of_its_own():
    assert BADGE_ROLES["vip"] is Role.VIP


@given(st.integers(min_value=1, max_value=10**9))
def test_cheer_amounts_are_bits_over_a_hundred_in_usd_exactly(bits):
    chat = chat_event(frame(dict(DOC_CHAT_EVENT, cheer={"bits": bits})))
    assert chat.kind is Kind.DONATION and chat.amount is not None
    assert chat.amount.value == Decimal(bits) / 100 and chat.amount.currency == "USD"
    assert chat.amount.display == (f"{bits:,} bits" if bits != 1 else "1 bit")


@pytest.mark.parametrize(
    "cheer", [{"bits": 0}, {"bits": -5}, {"bits": "100"}, {"bits": True}, {}, [], {"bits": 10**12}]
)
def test_a_malformed_cheer_is_skipped_never_passed_off_as_chat(cheer):
    assert "cheer" in skip(frame(dict(DOC_CHAT_EVENT, cheer=cheer))).reason


def test_shared_chat_from_another_channel_is_skipped_unless_asked_for():
    foreign = dict(DOC_CHAT_EVENT, source_broadcaster_user_id="999", source_message_id="s")
    assert skip(frame(foreign)).reason == "shared chat from another channel"
    assert chat_event(frame(foreign), shared_chat=True).id == DOC_CHAT_EVENT["message_id"]
    own = dict(DOC_CHAT_EVENT, source_broadcaster_user_id=BROADCASTER)
    assert chat_event(frame(own)).kind is Kind.CHAT
    notice = twitch_notice("shared_chat_sub", {"sub_tier": "1000"})
    assert skip(frame(notice, "channel.chat.notification")).reason == "shared chat from another channel"
    assert chat_event(frame(notice, "channel.chat.notification"), shared_chat=True).kind is Kind.MEMBERSHIP


def test_another_channels_event_is_skipped():
    assert skip(frame(dict(DOC_CHAT_EVENT, broadcaster_user_id="42"))).reason == "another channel's event"


# ---- notifications ----------------------------------------------------------------------------------


def notice(notice_type: str, detail: dict[str, Any] | None = None, **fields: Any) -> str:
    return frame(twitch_notice(notice_type, detail or {"sub_tier": "1000"}, **fields), "channel.chat.notification")


@pytest.mark.parametrize("notice_type", ["sub", "resub", "prime_paid_upgrade", "gift_paid_upgrade"])
def test_memberships_credit_the_chatter(notice_type):
    event = chat_event(notice(notice_type))
    assert event.kind is Kind.MEMBERSHIP and event.author.id == "4145994" and event.author.name == "Viewer32"
    assert event.text == f"a {notice_type} happened"  # no message: the system message
    said = {"text": "6 months!", "fragments": [twitch_fragment("text", "6 months!")]}
    assert chat_event(notice(notice_type, message=said)).text == "6 months!"


def test_a_single_gift_credits_the_gifter_never_the_recipient():
    detail = {"recipient_user_id": "777", "recipient_user_name": "Lucky", "sub_tier": "1000", "community_gift_id": None}
    gift = chat_event(notice("sub_gift", detail))
    assert gift.kind is Kind.GIFT and gift.author.id == "4145994" and gift.amount is None
    anonymous = chat_event(notice("sub_gift", detail, chatter_is_anonymous=True, chatter_user_id="274598607"))
    assert anonymous.author == Author(ANONYMOUS_ID, ANONYMOUS)


@given(twitch_community_gifts())
def test_a_community_gift_counts_once_whatever_the_order(events):
    outcomes = [convert(frame(e, "channel.chat.notification", message_id=f"m{i}")) for i, e in enumerate(events)]
    made = [o for o in outcomes if isinstance(o, ChatEvent)]
    assert len(made) == 1 and made[0].kind is Kind.GIFT
    community = next(e for e in events if e["notice_type"] == "community_sub_gift")
    assert made[0].id == community["message_id"]
    expected = ANONYMOUS_ID if community["chatter_is_anonymous"] else community["chatter_user_id"]
    assert made[0].author.id == expected
    assert all(o.reason == "part of a community gift" for o in outcomes if isinstance(o, Skip))


@pytest.mark.parametrize("spelling", ["decimal_place", "decimal_places"])
def test_a_charity_donation_is_a_donation_in_its_currency(spelling):
    detail = {"charity_name": "Good", "amount": {"value": 550, spelling: 2, "currency": "EUR"}}
    event = chat_event(notice("charity_donation", detail))
    assert event.kind is Kind.DONATION and event.amount is not None
    assert (event.amount.value, event.amount.currency) == (Decimal("5.50"), "EUR")


@pytest.mark.parametrize(
    "amount",
    [
        None,
        {"value": 550, "currency": "EUR"},
        {"value": -1, "decimal_place": 2, "currency": "EUR"},
        {"value": 550, "decimal_place": 2, "currency": "euros"},
        {"value": 10**40, "decimal_place": 0, "currency": "EUR"},
    ],
)
def test_a_charity_donation_that_cannot_be_read_is_skipped(amount):
    skip(notice("charity_donation", {"charity_name": "Good", "amount": amount}))


@pytest.mark.parametrize(
    "notice_type",
    ["raid", "unraid", "announcement", "bits_badge_tier", "watch_streak", "pay_it_forward", "modiversary", "new_thing"],
)
def test_other_notices_are_skipped_with_a_reason(notice_type):
    assert skip(notice(notice_type)).reason


# ---- moderation -------------------------------------------------------------------------------------


def test_a_deleted_message_purges_that_message():
    event = {
        "broadcaster_user_id": BROADCASTER,
        "target_user_id": "4145994",
        "target_user_name": "viewer32",
        "target_user_login": "viewer32",
        "message_id": "cc106a89-1814-919d-454c-f4f2f970aae7",
    }
    purge = chat_event(frame(event, "channel.chat.message_delete", message_id="meta-1"))
    assert purge.kind is Kind.MODERATION and purge.id == "meta-1"
    assert purge.target is not None and purge.target.message_id == "cc106a89-1814-919d-454c-f4f2f970aae7"
    assert purge.target.author_id is None


def test_cleared_user_messages_purge_by_author():
    event = {"broadcaster_user_id": BROADCASTER, "target_user_id": "4145994", "target_user_name": "viewer32"}
    purge = chat_event(frame(event, "channel.chat.clear_user_messages"))
    assert purge.kind is Kind.MODERATION and purge.target is not None
    assert (purge.target.author_id, purge.target.message_id) == ("4145994", None)
    assert (
        "no target_user_id"
        in skip(frame({"broadcaster_user_id": BROADCASTER}, "channel.chat.clear_user_messages")).reason
    )


def test_clearing_the_whole_chat_purges_everything_of_twitch_that_waits():
    purge = chat_event(frame({"broadcaster_user_id": BROADCASTER}, "channel.chat.clear"))
    assert purge.kind is Kind.MODERATION and purge.target is not None
    assert purge.target.everything and purge.target.message_id is None and purge.target.author_id is None


def test_frames_that_are_no_chat_are_skipped():
    assert skip(WELCOME).reason == "not a notification"
    assert skip(frame({"broadcaster_user_id": BROADCASTER}, "channel.follow")).reason == "not a chat subscription"


# ---- dedupe and replay ------------------------------------------------------------------------------


def notification(metadata_id: str, event_id: str, sub_type: str = "channel.chat.message") -> Notification:
    parsed = parse_frame(frame(dict(DOC_CHAT_EVENT, message_id=event_id), sub_type, message_id=metadata_id))
    assert isinstance(parsed, Notification)
    return parsed


@given(twitch_uuids, twitch_uuids, twitch_uuids, st.floats(0, 1e9), st.floats(0, DEDUPE_TTL - 1e-3))
def test_a_frame_seen_again_within_the_ttl_is_a_duplicate_under_either_id(meta, inner, other, now, later):
    deduper = Deduper()
    assert not deduper.seen_frame(notification(meta, inner), now)
    assert deduper.seen_frame(notification(meta, inner), now + later)  # the same resend
    assert deduper.seen_frame(notification(other + "m", inner), now + later)  # a new metadata id, same message
    assert deduper.seen_frame(notification(meta, other + "e"), now + later)  # a new event id, same frame


@given(twitch_uuids, twitch_uuids, st.floats(0, 1e9), st.floats(DEDUPE_TTL, 1e6))
def test_after_the_ttl_it_is_new_again(meta, inner, now, later):
    deduper = Deduper()
    assert not deduper.seen_frame(notification(meta, inner), now)
    assert not deduper.seen_frame(notification(meta, inner), now + later)


def test_a_deletes_message_id_is_not_the_deleted_messages_key():
    deduper = Deduper()
    assert not deduper.seen_frame(notification("a", "target"), 0.0)
    assert not deduper.seen_frame(notification("b", "target", "channel.chat.message_delete"), 1.0)


@given(st.integers(min_value=1, max_value=50), st.lists(st.floats(0, 100), min_size=1, max_size=200))
def test_memory_is_bounded_and_survives_a_restart(capacity, gaps):
    deduper, now = Deduper(capacity=capacity, ttl=60.0), 0.0
    for i, gap in enumerate(gaps):
        now += gap
        deduper.seen([f"id-{i}"], now)
        assert len(deduper) <= capacity
    restored = Deduper(capacity=capacity, ttl=60.0)
    restored.load(json.loads(json.dumps(deduper.dump())), now)
    assert restored.dump() == deduper.dump()
    assert restored.seen([f"id-{len(gaps) - 1}"], now)


def test_a_broken_cursor_loads_what_it_can():
    deduper = Deduper()
    deduper.load([["a", 5.0], ["b"], [3, 4], ["c", "x"], ["d", float("nan")], "e"], 10.0)
    assert deduper.dump() == [["a", 5.0]]
    deduper.load({"not": "a list"}, 10.0)
    assert len(deduper) == 1


def test_the_replay_guard():
    metadata = notification("a", "b").metadata  # stamped 2023-07-19T14:56:51.634234Z
    stamp = datetime(2023, 7, 19, 14, 56, 51, 634234, tzinfo=UTC).timestamp()
    assert not is_stale(metadata, stamp + 599)
    assert is_stale(metadata, stamp + 601)
    assert not is_stale(metadata, stamp - 3600)  # from the future: the clocks disagree, not a replay
    undated = parse_frame(KEEPALIVE.replace("2023-07-19T10:11:12.634234626Z", "soon")).metadata
    assert undated.timestamp is None and not is_stale(undated, 1e12)


# ---- tokens, device flow, validate, errors ----------------------------------------------------------

DEVICE = (
    '{"device_code":"ike3GM8QIdYZs43KdrWPIO36LofILoCyFEzjlQ91","expires_in":1800,"interval":5,'
    '"user_code":"ABCDEFGH","verification_uri":"https://www.twitch.tv/activate?public=true&device-code=ABCDEFGH"}'
)
TOKEN = (
    '{"access_token":"rfx2uswqe8l4g1mkagrvg5tv0ks3","expires_in":14124,'
    '"refresh_token":"5b93chm6hdve3mycz05zfzatkfdenfspp1h1ar2xxdalen01","scope":["user:read:chat"],'
    '"token_type":"bearer"}'
)


def test_the_documented_device_code():
    code = parse_device_code(DEVICE)
    assert code == DeviceCode(
        "ike3GM8QIdYZs43KdrWPIO36LofILoCyFEzjlQ91",
        "ABCDEFGH",
        "https://www.twitch.tv/activate?public=true&device-code=ABCDEFGH",
        1800.0,
        5.0,
    )
    assert "ike3GM8" not in repr(code)


def test_the_documented_token():
    pair = parse_token(TOKEN, 1000.0)
    assert pair.access_token == "rfx2uswqe8l4g1mkagrvg5tv0ks3" and pair.expires_at == 15124.0
    assert pair.scope == "user:read:chat"
    assert pair.access_token not in repr(pair) and pair.refresh_token not in repr(pair)
    assert TokenPair.from_json(json.loads(json.dumps(pair.to_json()))) == pair


@pytest.mark.parametrize(
    "body",
    ['{"access_token":"a","expires_in":5}', '{"access_token":"a","refresh_token":"r","expires_in":-1}', "[]", "x"],
)
def test_a_token_answer_we_cannot_use_is_a_payload_error(body):
    with pytest.raises(PayloadError):
        parse_token(body, 0.0)


_secrets = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=8, max_size=40)


@given(_secrets.map("at-".__add__), _secrets.map("rt-".__add__), _secrets.map("dc-".__add__))
def test_secrets_never_show(access, refresh, device_code):
    pair = parse_token(json.dumps({"access_token": access, "refresh_token": refresh, "expires_in": 9}), 0.0)
    code = DeviceCode(device_code, "ABCDEFGH", "https://www.twitch.tv/activate", 1800.0, 5.0)
    shown = repr(pair) + str(pair) + repr(code) + str(code)
    assert access not in shown and refresh not in shown and device_code not in shown


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (400, '{"status":400,"message":"authorization_pending"}', "pending"),  # Twitch's envelope [DOC]
        (400, '{"status":400,"message":"invalid device code"}', "invalid"),  # [DOC]
        (400, '{"status":400,"message":"slow_down"}', "slow_down"),
        (400, '{"error":"authorization_pending"}', "pending"),  # RFC 8628
        (400, '{"error":"slow_down"}', "slow_down"),
        (400, '{"error":"access_denied"}', "denied"),
        (400, '{"error":"expired_token"}', "expired"),
        (400, '{"error":"invalid_grant"}', "invalid"),
        (400, '{"status":400,"message":"Authorization_Pending "}', "pending"),
    ],
)
def test_device_poll_outcomes(status, body, outcome):
    assert device_poll_outcome(status, body) == outcome


@pytest.mark.parametrize(
    ("status", "body"),
    [(429, '{"message":"authorization_pending"}'), (503, "<html>"), (400, '{"message":"missing client_id"}')],
)
def test_other_poll_answers_are_errors_never_pending(status, body):
    with pytest.raises(TwitchApiError) as caught:
        device_poll_outcome(status, body)
    assert caught.value.status == status


def test_validate():
    body = (
        '{"client_id":"wbmytr93xzw8zbg0p1izqyzzc5mbiz","login":"twitchdev","scopes":["user:read:chat"],'
        '"user_id":"141981764","expires_in":5520838}'
    )
    assert parse_validate(body) == Validated(
        "wbmytr93xzw8zbg0p1izqyzzc5mbiz", "twitchdev", "141981764", ("user:read:chat",), 5520838.0
    )
    app = parse_validate('{"client_id":"c","scopes":[],"expires_in":0}')
    assert (app.login, app.user_id) == (None, None)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, '{"error":"Unauthorized","status":401,"message":"Invalid OAuth token"}', "Invalid OAuth token"),
        (400, '{"status":400,"message":"Invalid refresh token"}', "Invalid refresh token"),
        (401, '{"status":401,"message":"invalid access token"}', "invalid access token"),
        (502, "<html><body>Bad gateway</body></html>", "HTTP 502"),
        (429, '{"error":"Too Many Requests","status":429,"message":"' + "x" * 5000 + '"}', "x" * 200),
    ],
)
def test_error_envelopes(status, body, message):
    error = api_error(status, body, retry_after=3.0)
    assert (error.status, error.message, error.retry_after) == (status, message, 3.0)
    assert str(error) == f"HTTP {status} {message}"


# ---- close codes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "action"),
    [
        (4000, "reconnect"),
        (4001, "stop_bug"),
        (4002, "reconnect"),
        (4003, "full_reconnect"),
        (4004, "ignore_old"),
        (4005, "reconnect"),
        (4006, "reconnect"),
        (4007, "base_url"),
        (1000, "reconnect"),
        (1006, "reconnect"),
        (4999, "reconnect"),
    ],
)
def test_close_actions(code, action):
    assert close_action(code) == action and isinstance(close_action(code), CloseAction)
    assert close_reason(code)


def test_every_close_row_says_why():
    assert all(len(why) > 10 for _, why in CLOSE_TABLE.values())


def test_a_strange_reconnect_url_in_a_welcome_is_dropped_not_the_welcome():
    for url in ('"https://x"', '"wss://x/\\u0000"', "12", '""'):
        welcome = parse_frame(WELCOME.replace('"reconnect_url":null', f'"reconnect_url":{url}'))
        assert isinstance(welcome, Welcome) and welcome.reconnect_url is None
    assert parse_frame(WELCOME.replace('"reconnect_url":null', '"reconnect_url":"ws://127.0.0.1:1/ws"')).reconnect_url
