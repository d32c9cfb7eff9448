"""Chzzk Open API payloads: the real captured CHAT, every documented or
observed variant giving the same event, and arbitrary JSON that must end in
a ChatEvent or a Skip, never an exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.chat import ChatEvent, Kind, Platform, Role
from actors.ledger import Ledger
from actors.monitors.chzzk.api import (
    ANONYMOUS,
    ChzzkApiError,
    PayloadError,
    Skip,
    SystemMessage,
    TokenPair,
    decode_argument,
    parse_system,
    parse_token,
    session_url_of,
    socket_url,
    to_chat_event,
    unwrap,
)
from actors.monitors.common.tokens import DamagedTokens
from actors.router.actor import Router, RoutingSettings
from strategies import chzzk_payloads, chzzk_variants, json_values, token_pairs

WALL = datetime(2026, 7, 22, 13, 50, tzinfo=UTC)

# Captured from the real server on 2026-07-22 (reference §2.7).
REAL_CHAT = (
    '{"channelId":"d9c571e0ecae37fec31711735f95c8f4","chatChannelId":"N2dODq",'
    '"senderChannelId":"d9c571e0ecae37fec31711735f95c8f4",'
    '"profile":{"nickname":"위즈 WisdomIT","verifiedMark":false,'
    '"badges":[{"imageUrl":"https://ssl.pstatic.net/static/nng/glive/icon/streamer.png"}],'
    '"userRoleCode":"streamer"},'
    '"content":"chzzk-open-sdk CHAT 이벤트 실측 테스트","emojis":{},'
    '"messageTime":1784728108501,"eventSentAt":"2026-07-22T22:48:28.525460090"}'
)


def event(name: str, arg: object, *, wall: datetime = WALL, at: float = 7.0) -> ChatEvent:
    outcome = to_chat_event(name, arg, received_at=at, received_wall=wall)
    assert isinstance(outcome, ChatEvent), outcome
    return outcome


# ---- events ----------------------------------------------------------------------------------


def test_the_real_captured_chat():
    chat = event("CHAT", REAL_CHAT)
    assert chat.platform is Platform.CHZZK and chat.kind is Kind.CHAT
    assert chat.author.id == "d9c571e0ecae37fec31711735f95c8f4"
    assert chat.author.name == "위즈 WisdomIT"
    assert chat.author.roles == frozenset({Role.OWNER})
    assert chat.text == "chzzk-open-sdk CHAT 이벤트 실측 테스트"
    assert chat.amount is None and chat.received_at == 7.0
    # 1784728108501 ms; eventSentAt says 22:48:28.525 in Korea (UTC+9).
    assert chat.sent_at == datetime(2026, 7, 22, 13, 48, 28, 501000, tzinfo=UTC)
    assert chat.id.startswith("chzzk-chat-") and len(chat.id) == len("chzzk-chat-") + 20


def test_the_documented_chat_shape_gives_the_same_event():
    documented = json.loads(REAL_CHAT)
    documented["userRoleCode"] = documented["profile"].pop("userRoleCode")
    del documented["chatChannelId"], documented["eventSentAt"]
    assert event("CHAT", documented, at=1.0, wall=WALL + timedelta(hours=1)) == event("CHAT", REAL_CHAT, at=1.0)


@given(chzzk_payloads(), st.data())
def test_every_variant_gives_the_same_event_as_the_canonical_form(named, data):
    name, canonical = named
    variant, applied = data.draw(chzzk_variants(name, canonical))
    expected = event(name, json.dumps(canonical, ensure_ascii=False))
    assert event(name, variant) == expected, applied


@pytest.mark.parametrize(
    ("code", "roles"),
    [
        ("streamer", {Role.OWNER}),
        ("streaming_channel_manager", {Role.MODERATOR}),
        ("streaming_chat_manager", {Role.MODERATOR}),
        ("manager", {Role.MODERATOR}),
        ("common_user", set()),
        ("streaming_settlement_manager", set()),
        (None, set()),
        (5, set()),
    ],
)
def test_roles(code, roles):
    payload = json.loads(REAL_CHAT)
    payload["profile"]["userRoleCode"] = code
    assert event("CHAT", payload).author.roles == frozenset(roles)
    payload["profile"]["verifiedMark"] = True
    assert event("CHAT", payload).author.roles == frozenset(roles | {Role.VERIFIED})


def test_the_role_in_profile_wins_over_the_top_level():
    payload = json.loads(REAL_CHAT)
    payload["userRoleCode"] = "common_user"
    assert event("CHAT", payload).author.roles == {Role.OWNER}
    payload["profile"]["userRoleCode"] = None  # absent in profile: the top level counts
    payload["userRoleCode"] = "streaming_chat_manager"
    assert event("CHAT", payload).author.roles == {Role.MODERATOR}


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("{:d_47:}", "{:d_47:}"),  # emotes only: kept, so the router knows it is emote-only
        ("{:d_47:}{:d_48:}  ", "{:d_47:} {:d_48:}"),
        ("안녕{:d_47:}하세요", "안녕 하세요"),
        ("  a \n\t b  ", "a b"),
        ("{:not closed", "{:not closed"),
        ("{: spaced :}", "{: spaced :}"),
        ("ㅋㅋ {:ch_zz_k_01:} ㅋㅋ", "ㅋㅋ ㅋㅋ"),
    ],
)
def test_emoji_placeholders_go_and_whitespace_collapses(content, text):
    payload = json.loads(REAL_CHAT) | {"content": content}
    assert event("CHAT", payload).text == text


def test_an_emote_only_chat_is_filtered_as_emoji_only_not_too_short():
    router = Router(Ledger(), RoutingSettings())
    for i, content in enumerate(["{:d_47:}{:d_47:}", "{:mira_love:} 💀"]):
        payload = json.loads(REAL_CHAT) | {"content": content, "messageTime": 1_700_000_000_000 + i}
        router.route(event("CHAT", payload), 0.0)
    assert router.ledger.to_dict()["filtered"] == {"emoji_only": 2}


def test_anonymous_and_lenient_profiles():
    payload = json.loads(REAL_CHAT)
    for profile in (None, {}, {"nickname": ""}, {"nickname": "  "}, "not json", '{"nickname":"겉"}'):
        payload["profile"] = profile
        name = event("CHAT", payload).author.name
        assert name == ("겉" if profile == '{"nickname":"겉"}' else ANONYMOUS)
    del payload["profile"]
    assert event("CHAT", payload).author.name == ANONYMOUS


@pytest.mark.parametrize("when", [None, "soon", -1, 1.5e12, True, "١٧٨٤٧٢٨١٠٨٥٠١", 10**20])
def test_a_missing_or_odd_message_time_is_when_we_got_it(when):
    payload = json.loads(REAL_CHAT) | {"messageTime": when}
    assert event("CHAT", payload).sent_at == WALL
    assert event("CHAT", payload | {"messageTime": "1784728108501"}).sent_at.microsecond == 501000


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"content": "hi"}, "no senderChannelId"),
        ({"senderChannelId": "", "content": "hi"}, "no senderChannelId"),
        ({"senderChannelId": 5, "content": "hi"}, "no senderChannelId"),
        ({"senderChannelId": "abc"}, "no content"),
        ({"senderChannelId": "abc", "content": None}, "no content"),
    ],
)
def test_chats_that_cannot_be_read_are_skipped(payload, reason):
    assert to_chat_event("CHAT", payload, received_at=0.0, received_wall=WALL) == Skip("CHAT", reason)


def test_unknown_events_and_unreadable_arguments_are_skipped():
    assert to_chat_event("MISSION", "{}", received_at=0.0, received_wall=WALL) == Skip("MISSION", "unknown event")
    assert to_chat_event("SYSTEM", "{}", received_at=0.0, received_wall=WALL) == Skip("SYSTEM", "unknown event")
    for arg in ("not json", "[1]", 5, None, ["CHAT"], '"{}"'):
        outcome = to_chat_event("CHAT", arg, received_at=0.0, received_wall=WALL)
        assert isinstance(outcome, Skip) and outcome.event == "CHAT", arg


# Field names of all three events, so generated objects reach the deep paths.
FIELDS = [
    "senderChannelId", "content", "profile", "messageTime", "userRoleCode", "donatorChannelId",
    "donatorNickname", "payAmount", "donationText", "donationType", "subscriberChannelId",
    "subscriberNickname", "nickname", "verifiedMark",
]  # fmt: skip
field_values = st.one_of(
    json_values,
    st.sampled_from(["1000", "0", "-1", "1e3", "١٠٠٠", "", "{:x:}", "\ud800", "streamer", "9" * 30]),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4),
    st.floats(),
)
payload_like = st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=8)
names = st.sampled_from(["CHAT", "DONATION", "SUBSCRIPTION", "SYSTEM"]) | st.text(max_size=8)


@st.composite
def damaged_payloads(draw: st.DrawFn) -> tuple[str, object]:
    """A real-shaped event with some fields removed or replaced by anything."""
    name, payload = draw(chzzk_payloads())
    for key in draw(st.lists(st.sampled_from(sorted(payload)), max_size=3)):
        if draw(st.booleans()):
            payload.pop(key, None)
        else:
            payload[key] = draw(field_values)
    profile = payload.get("profile")
    if isinstance(profile, dict) and draw(st.booleans()):
        profile[draw(st.sampled_from(["nickname", "verifiedMark", "userRoleCode", "badges"]))] = draw(field_values)
    name = draw(st.just(name) | names)
    return name, payload if draw(st.booleans()) else json.dumps(payload)


@given(
    damaged_payloads()
    | st.tuples(names, json_values | json_values.map(json.dumps) | payload_like | payload_like.map(json.dumps)),
    st.datetimes(timezones=st.just(UTC)) | st.datetimes(),
)
def test_any_json_for_any_event_is_an_event_or_a_skip(named, wall):
    name, arg = named
    outcome = to_chat_event(name, arg, received_at=1.0, received_wall=wall)
    assert isinstance(outcome, ChatEvent | Skip)
    if isinstance(outcome, ChatEvent):
        assert outcome.sent_at.tzinfo is not None and outcome.sent_at.utcoffset() == timedelta(0)
        # what leaves here can be written as UTF-8 (records, the OLV socket)
        (outcome.text + outcome.author.name + outcome.author.id).encode("utf-8")
        if outcome.amount is not None:
            assert outcome.amount.value > 0 and outcome.amount.display.startswith("₩")


# ---- stable ids -------------------------------------------------------------------------------


@given(chzzk_payloads(), st.floats(0, 1e6), st.integers(0, 10**6))
def test_the_same_payload_twice_has_the_same_id(named, at, later_ms):
    name, payload = named
    first = event(name, json.dumps(payload), at=0.0)
    again = event(name, payload, at=at, wall=WALL if name != "CHAT" else WALL + timedelta(milliseconds=later_ms))
    assert first.id == again.id and first.id.startswith(f"chzzk-{first.kind.value}-")


@given(chzzk_payloads(), st.sampled_from(["content", "time", "sender"]), st.data())
def test_a_different_message_has_a_different_id(named, change, data):
    name, payload = named
    other = json.loads(json.dumps(payload))
    text_field = {"CHAT": "content", "DONATION": "donationText", "SUBSCRIPTION": None}[name]
    sender_field = {"CHAT": "senderChannelId", "DONATION": "donatorChannelId", "SUBSCRIPTION": "subscriberChannelId"}
    wall = WALL
    if change == "content" and text_field is not None:
        other[text_field] = payload[text_field] + data.draw(st.text(min_size=1, max_size=3))
    elif change == "sender" or text_field is None:
        other[sender_field[name]] = payload[sender_field[name]] + "x"
    elif name == "CHAT":
        other["messageTime"] = payload["messageTime"] + data.draw(st.integers(1, 10**6))
    else:
        wall = WALL + timedelta(milliseconds=data.draw(st.integers(1, 10**6)))
    assert event(name, payload).id != event(name, other, wall=wall).id


def test_two_equal_donations_at_different_times_are_two_donations():
    donation = {"donatorChannelId": "abc", "donatorNickname": "팬", "payAmount": "1000", "donationText": "화이팅"}
    first = event("DONATION", donation)
    second = event("DONATION", donation, wall=WALL + timedelta(seconds=3))
    assert first.id != second.id
    timed = donation | {"messageTime": 1784728108501}  # a server time, if it ever sends one, is the key
    assert event("DONATION", timed).id == event("DONATION", timed, wall=WALL + timedelta(seconds=3)).id


def test_the_same_text_in_another_amount_is_another_donation():
    donation = {"donatorChannelId": "abc", "payAmount": "1000", "donationText": "화이팅"}
    assert event("DONATION", donation).id != event("DONATION", donation | {"payAmount": "2000"}).id


# ---- donations and subscriptions -------------------------------------------------------------


@pytest.mark.parametrize("pay", ["1000", 1000, 1000.0, "0001000"])
def test_donation_amounts_are_exact(pay):
    donation = event("DONATION", {"donationType": "VIDEO", "donatorChannelId": "abc", "payAmount": pay})
    assert donation.kind is Kind.DONATION and donation.amount is not None
    assert donation.amount.value == Decimal(1000) and str(donation.amount.value) == "1000"
    assert donation.amount.currency == "KRW" and donation.amount.display == "₩1,000"
    assert donation.text == "" and donation.sent_at == WALL


def test_big_donations_keep_every_won():
    donation = event("DONATION", {"payAmount": "123456789012"})
    assert donation.amount is not None and donation.amount.value == Decimal("123456789012")
    assert donation.amount.display == "₩123,456,789,012"


@pytest.mark.parametrize(
    "pay", ["0", 0, -1000, "-1000", "1.5", 1000.5, "abc", "", True, None, "١٠٠٠", [1000], "9" * 30]
)
def test_a_malformed_pay_amount_is_skipped(pay):
    outcome = to_chat_event("DONATION", {"payAmount": pay}, received_at=0.0, received_wall=WALL)
    assert outcome == Skip("DONATION", "malformed payAmount")


def test_an_anonymous_donation():
    donation = event("DONATION", {"payAmount": 500, "donationText": "{:d_1:} 응원해요"})
    assert (donation.author.id, donation.author.name, donation.text) == ("chzzk-anonymous", ANONYMOUS, "응원해요")


def test_a_subscription():
    payload = {"channelId": "c", "subscriberChannelId": "s", "subscriberNickname": "구독자", "tierNo": 1, "month": 3}
    sub = event("SUBSCRIPTION", payload)
    assert (sub.kind, sub.author.id, sub.author.name, sub.text, sub.amount) == (
        Kind.MEMBERSHIP, "s", "구독자", "", None,
    )  # fmt: skip
    assert sub.sent_at == WALL


# ---- the envelope ------------------------------------------------------------------------------


def test_success_envelopes():
    assert unwrap(200, b'{"code":200,"message":null,"content":{"url":"u"}}') == {"url": "u"}
    assert unwrap(200, b'{"code":200,"message":null,"content":null}') is None
    assert unwrap(201, b'{"content":[1]}') == [1]


@pytest.mark.parametrize(
    ("status", "body", "check"),
    [
        (401, b'{"code":401,"message":"INVALID_TOKEN"}', "invalid_token"),
        (401, b'{"code":401,"message":"INVALID_CLIENT"}', "invalid_client"),
        (401, b'{"code":401,"message":"UNAUTHORIZED"}', None),
        (200, b'{"code":401,"message":"INVALID_TOKEN"}', "invalid_token"),
    ],
)
def test_the_documented_error_bodies(status, body, check):
    with pytest.raises(ChzzkApiError) as caught:
        unwrap(status, body)
    error = caught.value
    assert error.status == 401 and error.code == 401
    assert error.invalid_token is (check == "invalid_token")
    assert error.invalid_client is (check == "invalid_client")
    assert str(error) == f"HTTP 401 {error.message}"


def test_errors_that_are_not_the_envelope():
    with pytest.raises(ChzzkApiError) as caught:
        unwrap(502, b"<html>" + b"x" * 5000 + b"</html>")
    assert caught.value.message == "Bad Gateway" and caught.value.code is None
    with pytest.raises(ChzzkApiError) as caught:
        unwrap(500, json.dumps({"code": 50001, "message": "서버 오류입니다. " * 100}).encode())
    assert caught.value.code == 50001 and len(caught.value.message) <= 200
    assert str(caught.value).startswith("HTTP 500 (code 50001) 서버 오류입니다.")
    with pytest.raises(ChzzkApiError) as caught:
        unwrap(429, b'{"code":429,"message":null}')
    assert caught.value.message == "Too Many Requests" and caught.value.retry_after is None
    caught.value.retry_after = 2.0  # the caller fills it in from Retry-After
    with pytest.raises(ChzzkApiError) as caught:
        unwrap(799, b"")
    assert caught.value.status == 799 and caught.value.message


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'"x"', b"null", b"\xff\xfe\x00", b"[" * 100_000])
def test_a_success_that_is_not_an_object(body):
    with pytest.raises(PayloadError):
        unwrap(200, body)


envelopes = st.fixed_dictionaries(
    {},
    optional={
        "code": st.sampled_from([200, 401, 500, "200", None, True]) | st.integers(),
        "message": st.none() | st.text(max_size=300),
        "content": json_values,
    },
).map(lambda d: json.dumps(d).encode())


@given(
    st.integers(0, 999) | st.integers(),
    st.binary(max_size=40) | envelopes | json_values.map(lambda v: json.dumps(v).encode()),
)
def test_any_answer_is_content_or_one_of_two_errors(status, body):
    try:
        unwrap(status, body)
    except ChzzkApiError as error:
        str(error)
        assert len(error.message) <= 200 and error.message
    except PayloadError:
        assert 200 <= status < 300


# ---- tokens --------------------------------------------------------------------------------------


@given(token_pairs)
def test_a_token_pair_survives_the_token_file(pair):
    assert TokenPair.from_json(json.loads(json.dumps(pair.to_json()))) == pair


@given(token_pairs)
def test_a_repr_never_shows_the_tokens(pair):
    for shown in (repr(pair), str(pair)):
        assert pair.access_token not in shown and pair.refresh_token not in shown


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {},
        {"access_token": "a", "refresh_token": "r"},
        {"access_token": "", "refresh_token": "r", "expires_at": 1.0},
        {"access_token": "a", "refresh_token": 5, "expires_at": 1.0},
        {"access_token": "a", "refresh_token": "r", "expires_at": "1.0"},
        {"access_token": "a", "refresh_token": "r", "expires_at": True},
        {"access_token": "a", "refresh_token": "r", "expires_at": float("nan")},
        {"access_token": "a", "refresh_token": "r", "expires_at": 1.0, "scope": None},
    ],
)
def test_a_damaged_token_file(data):
    with pytest.raises(DamagedTokens):
        TokenPair.from_json(data)


@pytest.mark.parametrize("expires_in", [86400, "86400", 86400.0])
def test_parse_token_takes_the_documented_and_the_real_expiry(expires_in):
    content = {"accessToken": "a", "refreshToken": "r", "tokenType": "Bearer", "expiresIn": expires_in}
    pair = parse_token(content, now=1_000.0)
    assert pair == TokenPair("a", "r", 87_400.0, "Bearer", "")
    scoped = parse_token(content | {"scope": "채널 정보 조회 채팅 메시지 쓰기"}, now=0.0)
    assert scoped.scope == "채널 정보 조회 채팅 메시지 쓰기"


@pytest.mark.parametrize(
    "content",
    [
        None,
        "token",
        {"refreshToken": "r", "expiresIn": 86400},
        {"accessToken": "a", "refreshToken": "", "expiresIn": 86400},
        {"accessToken": "a", "refreshToken": "r"},
        {"accessToken": "a", "refreshToken": "r", "expiresIn": 0},
        {"accessToken": "a", "refreshToken": "r", "expiresIn": -5},
        {"accessToken": "a", "refreshToken": "r", "expiresIn": "1 day"},
        {"accessToken": "a", "refreshToken": "r", "expiresIn": True},
        {"accessToken": "a", "refreshToken": "r", "expiresIn": "٨٦٤٠٠"},
    ],
)
def test_an_unusable_token_answer(content):
    with pytest.raises(PayloadError):
        parse_token(content, now=0.0)


# ---- session URLs ---------------------------------------------------------------------------


def test_the_socket_url_of_a_real_session_url():
    url = session_url_of({"url": "https://ssio08.nchat.naver.com:443?auth=TOKEN"})
    assert socket_url(url) == "wss://ssio08.nchat.naver.com:443/socket.io/?auth=TOKEN&EIO=3&transport=websocket"
    fake = socket_url("http://127.0.0.1:8123?auth=a%2Bb+c&x=1")
    assert fake == "ws://127.0.0.1:8123/socket.io/?auth=a%2Bb+c&x=1&EIO=3&transport=websocket"
    assert (
        socket_url("http://h/?EIO=4&auth=t&transport=polling") == "ws://h/socket.io/?auth=t&EIO=3&transport=websocket"
    )


@given(st.text(alphabet="ABCDEFabcdef0123456789-_.~%+=", min_size=1, max_size=160))
def test_the_auth_token_is_kept_byte_for_byte(token):
    url = socket_url(f"https://ssio10.nchat.naver.com:443?auth={token}")
    assert url.startswith(f"wss://ssio10.nchat.naver.com:443/socket.io/?auth={token}&")


@pytest.mark.parametrize("url", ["ftp://h?auth=x", "wss://h?auth=x", "https://?auth=x", "h?auth=x", "http://[::1"])
def test_session_urls_that_are_not_http(url):
    with pytest.raises(PayloadError):
        socket_url(url)
    with pytest.raises(PayloadError):
        session_url_of({"url": url})


@pytest.mark.parametrize("content", [None, {}, {"url": None}, {"url": 5}, ["https://h"]])
def test_session_content_without_a_url(content):
    with pytest.raises(PayloadError):
        session_url_of(content)


# ---- SYSTEM messages -----------------------------------------------------------------------------


def test_system_messages():
    connected = parse_system(json.dumps({"type": "connected", "data": {"sessionKey": "k-1"}}))
    assert connected == SystemMessage("connected", {"sessionKey": "k-1"}) and connected.session_key == "k-1"
    for kind in ("subscribed", "unsubscribed", "revoked"):
        message = parse_system({"type": kind, "data": {"eventType": "CHAT", "channelId": "ch"}})
        assert (message.type, message.event_type, message.channel_id, message.session_key) == (kind, "CHAT", "ch", None)
    unknown = parse_system('{"type":"maintenance","data":{"in":60}}')
    assert unknown.type == "maintenance" and unknown.data == {"in": 60}
    assert parse_system('{"type":"connected"}').session_key is None
    assert parse_system('{"type":"connected","data":{"sessionKey":5}}').session_key is None


@pytest.mark.parametrize("arg", [None, 5, "nope", "[]", '{"data":{}}', '{"type":5}', '{"type":"x","data":[1]}'])
def test_system_messages_that_cannot_be_read(arg):
    with pytest.raises(PayloadError):
        parse_system(arg)


def test_decode_argument_takes_a_json_string_or_an_object():
    assert decode_argument('{"a":1}') == {"a": 1} == decode_argument({"a": 1})
    for arg in ("[1]", "1", 1, None, ["{}"], '"{}"', "{"):
        with pytest.raises(PayloadError):
            decode_argument(arg)


@given(json_values | json_values.map(json.dumps))
def test_system_parsing_of_anything_is_a_message_or_a_payload_error(arg):
    try:
        parse_system(arg)
    except PayloadError:
        pass
