"""Engine.IO 3 / Socket.IO 2 framing: round trips, the reference's exact
examples, and garbage that must end in FramingError and nothing else."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.monitors.chzzk.engineio import (
    EnginePacket,
    EngineType,
    FramingError,
    OpenInfo,
    SocketPacket,
    SocketType,
    decode_packet,
    decode_payload,
    decode_socket,
    encode_packet,
    encode_payload,
    encode_socket,
    event_frame,
    parse_event,
    parse_open,
)
from strategies import engine_packets, frame_text, json_values, socket_packets

PING = EnginePacket(EngineType.PING)
OPEN_EXAMPLE = '{"sid":"abc123","upgrades":[],"pingInterval":25000,"pingTimeout":60000}'

# ---- packets ----------------------------------------------------------------------------------


@given(engine_packets)
def test_a_packet_survives_encoding(packet):
    assert decode_packet(encode_packet(packet)) == packet


def test_packets_as_the_reference_writes_them():
    assert encode_packet(EnginePacket(EngineType.PING, "probe")) == "2probe"
    assert encode_packet(EnginePacket(EngineType.MESSAGE, "0")) == "40"
    assert decode_packet("3probe") == EnginePacket(EngineType.PONG, "probe")
    assert decode_packet("6") == EnginePacket(EngineType.NOOP)


@pytest.mark.parametrize("text", ["", "7", "x", "b4aGVsbG8=", "٣", "²", " 2"])
def test_what_is_not_a_packet(text):
    with pytest.raises(FramingError):
        decode_packet(text)


@given(st.text(max_size=20))
def test_any_text_is_a_packet_or_a_framing_error(text):
    try:
        packet = decode_packet(text)
    except FramingError:
        return
    assert encode_packet(packet) == text


# ---- payloads -------------------------------------------------------------------------------


@given(st.lists(engine_packets, max_size=6), st.booleans())
def test_a_payload_survives_encoding_in_either_framing(packets, binary):
    body = encode_payload(packets, binary=binary)
    assert decode_payload(body) == packets
    if packets:
        assert (body[0] == 0x00) is binary


def test_the_reference_examples():
    assert decode_payload(bytes([0x00, 0x01, 0xFF, 0x32])) == [PING]  # a ping, as chzzkpy POSTs it
    assert decode_payload(b"1:2") == [PING]
    assert encode_payload([PING], binary=True) == b"\x00\x01\xff2"
    assert encode_payload([PING], binary=False) == b"1:2"
    opening = EnginePacket(EngineType.OPEN, OPEN_EXAMPLE)
    binary = b"\x00" + bytes([7, 2]) + b"\xff0" + OPEN_EXAMPLE.encode()
    assert len("0" + OPEN_EXAMPLE) == 72
    assert decode_payload(binary) == [opening]
    text = f"72:0{OPEN_EXAMPLE}2:401:6".encode()
    assert decode_payload(text) == [opening, EnginePacket(EngineType.MESSAGE, "0"), EnginePacket(EngineType.NOOP)]


def test_lengths_of_twelve_are_two_digit_bytes():
    packet = EnginePacket(EngineType.MESSAGE, "x" * 11)
    assert encode_payload([packet], binary=True) == b"\x00\x01\x02\xff4" + b"x" * 11


def test_text_framing_counts_utf16_units_and_binary_framing_counts_bytes():
    emoji = EnginePacket(EngineType.MESSAGE, "😀")
    assert encode_payload([emoji], binary=False) == "3:4😀".encode()  # "4" + a surrogate pair
    assert encode_payload([emoji], binary=True) == b"\x00\x05\xff4" + "😀".encode()
    korean = EnginePacket(EngineType.MESSAGE, "한")
    assert encode_payload([korean], binary=False) == "2:4한".encode()
    assert encode_payload([korean], binary=True) == b"\x00\x04\xff4" + "한".encode()
    with pytest.raises(FramingError):
        decode_payload("2:4😀".encode())  # the length ends inside the pair
    with pytest.raises(FramingError):
        decode_payload("4:4😀".encode())  # longer than what is there


@pytest.mark.parametrize(
    "body",
    [
        b"\x01\x01\xff\x00",  # a binary packet
        b"\x00\x01",  # no terminator
        b"\x00\xff2",  # no digits
        b"\x00\x0a\xff2",  # a "digit" of 10
        b"\x00\x05\xff2",  # shorter than its length
        b"\x00\x01\xff2\x02",  # garbage after a packet
        b"\x00\x00\xff",  # an empty packet
        b"\x00\x01\xff\xff",  # not UTF-8
        b"\x00\x01\xff7",  # an unknown type
        b"\x00" + b"\x09" * 11 + b"\xff",  # an absurd length
        b"1:",
        b":2",
        b"2:2",
        b"1:23",
        b"x:2",
        b"0:",
        b"1:b",
        "١:2".encode(),
        b"99999999999:2",
        b"\xff\xfe",
    ],
    ids=repr,
)
def test_garbled_payloads(body):
    with pytest.raises(FramingError):
        decode_payload(body)


def test_an_empty_body_carries_nothing():
    assert decode_payload(b"") == []
    assert encode_payload([], binary=True) == encode_payload([], binary=False) == b""


@given(st.binary(max_size=40))
def test_any_bytes_are_packets_or_a_framing_error(body):
    try:
        packets = decode_payload(body)
    except FramingError:
        return
    assert all(isinstance(p, EnginePacket) for p in packets)


@given(st.lists(engine_packets, min_size=1, max_size=4), st.booleans(), st.data())
def test_a_cut_payload_is_a_prefix_or_a_framing_error(packets, binary, data):
    body = encode_payload(packets, binary=binary)
    cut = data.draw(st.integers(0, len(body) - 1))
    try:
        got = decode_payload(body[:cut])
    except FramingError:
        return
    assert got == packets[: len(got)] and len(got) < len(packets)


@given(st.lists(engine_packets, min_size=1, max_size=4), st.booleans(), st.data())
def test_a_damaged_payload_is_packets_or_a_framing_error(packets, binary, data):
    body = bytearray(encode_payload(packets, binary=binary))
    for _ in range(data.draw(st.integers(1, 3))):
        body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    try:
        decode_payload(bytes(body))
    except FramingError:
        pass


# ---- Socket.IO packets ------------------------------------------------------------------------


@given(socket_packets)
def test_a_socket_packet_survives_encoding(packet):
    assert decode_socket(encode_socket(packet)) == packet


def test_socket_packets_as_the_reference_writes_them():
    assert decode_socket("0") == SocketPacket(SocketType.CONNECT)
    assert encode_socket(SocketPacket(SocketType.DISCONNECT)) == "1"
    assert decode_socket('2["CHAT","{}"]') == SocketPacket(SocketType.EVENT, ["CHAT", "{}"])
    assert decode_socket("0/chat") == SocketPacket(SocketType.CONNECT, namespace="/chat")
    assert encode_socket(SocketPacket(SocketType.CONNECT, namespace="/chat")) == "0/chat,"


def test_ack_ids_are_read_right_unlike_chzzkpy():
    assert decode_socket('217["a"]').id == 17  # chzzkpy reads 117
    assert decode_socket('2/chat,17["a"]') == SocketPacket(SocketType.EVENT, ["a"], "/chat", 17)
    assert decode_socket("317").id == 17
    assert decode_socket("30[]") == SocketPacket(SocketType.ACK, [], id=0)
    assert encode_socket(SocketPacket(SocketType.ACK, ["ok"], id=17)) == '317["ok"]'
    assert encode_socket(SocketPacket(SocketType.EVENT, ["a"], "/x", 9)) == '2/x,9["a"]'


@pytest.mark.parametrize(
    "text", ["", "7", "x", "5", '51-["a",{"_placeholder":true,"num":0}]', "6", "2[", "2{'a':1}", "2NaN", "2[Infinity]"]
)
def test_what_is_not_a_socket_packet(text):
    with pytest.raises(FramingError):
        decode_socket(text)


def test_an_overlong_id_is_refused():
    with pytest.raises(FramingError):
        decode_socket("3" + "9" * 40)


@pytest.mark.parametrize(
    "packet",
    [
        SocketPacket(SocketType.BINARY_EVENT, ["a"]),
        SocketPacket(SocketType.BINARY_ACK, [], id=1),
        SocketPacket(SocketType.EVENT, ["a"], namespace="chat"),
        SocketPacket(SocketType.EVENT, ["a"], namespace="/a,b"),
        SocketPacket(SocketType.ACK, [], id=-1),
        SocketPacket(SocketType.ERROR, 5),
        SocketPacket(SocketType.ERROR, 0.5),
        SocketPacket(SocketType.EVENT, [float("nan")]),
        SocketPacket(SocketType.EVENT, [object()]),
    ],
    ids=repr,
)
def test_what_would_not_read_back_is_not_encoded(packet):
    with pytest.raises(FramingError):
        encode_socket(packet)


SOCKETISH = st.text(alphabet='0123456789/,[]{}":-.abcetrunlfsEIN ', max_size=20)


@given(st.text(max_size=20) | SOCKETISH)
def test_any_text_is_a_socket_packet_or_a_framing_error(text):
    try:
        packet = decode_socket(text)
    except FramingError:
        return
    assert isinstance(packet.type, SocketType) and packet.namespace.startswith("/")


# ---- events and the OPEN packet ------------------------------------------------------------------


def test_an_event_frame_is_the_reference_shape():
    frame = event_frame("SYSTEM", json.dumps({"type": "connected", "data": {"sessionKey": "k"}}))
    assert frame == '42["SYSTEM","{\\"type\\": \\"connected\\", \\"data\\": {\\"sessionKey\\": \\"k\\"}}"]'
    assert event_frame("CHAT", "한") == '42["CHAT","한"]'


@given(st.text(max_size=10), st.lists(json_values, max_size=3))
def test_an_event_frame_reads_back(name, args):
    engine = decode_packet(event_frame(name, *args))
    assert engine.type is EngineType.MESSAGE
    assert parse_event(decode_socket(engine.data)) == (name, args)


@pytest.mark.parametrize(
    "packet",
    [
        SocketPacket(SocketType.ACK, ["a"]),
        SocketPacket(SocketType.EVENT, None),
        SocketPacket(SocketType.EVENT, []),
        SocketPacket(SocketType.EVENT, [1, "a"]),
        SocketPacket(SocketType.EVENT, {"a": 1}),
    ],
    ids=repr,
)
def test_what_is_not_an_event(packet):
    with pytest.raises(FramingError):
        parse_event(packet)


def test_the_open_packet_of_the_reference():
    assert parse_open(OPEN_EXAMPLE) == OpenInfo("abc123", 25.0, 60.0, ())
    polling = parse_open('{"sid":"s","upgrades":["websocket"],"pingInterval":"2500","pingTimeout":500.5}')
    assert polling == OpenInfo("s", 2.5, 0.5005, ("websocket",))
    assert parse_open('{"sid":"s"}') == OpenInfo("s", 25.0, 60.0, ())


@pytest.mark.parametrize(
    "data",
    [
        "",
        "[]",
        '"sid"',
        "{}",
        '{"sid":""}',
        '{"sid":5}',
        '{"sid":"s","pingInterval":0}',
        '{"sid":"s","pingInterval":-1}',
        '{"sid":"s","pingTimeout":86400001}',
        '{"sid":"s","pingInterval":1e400}',
        '{"sid":"s","pingInterval":NaN}',
        '{"sid":"s","pingInterval":true}',
        '{"sid":"s","pingInterval":"25s"}',
        '{"sid":"s","pingInterval":[]}',
    ],
)
def test_an_unusable_open_packet(data):
    with pytest.raises(FramingError):
        parse_open(data)


@given(st.text(max_size=30) | json_values.map(json.dumps) | st.dictionaries(
    st.sampled_from(["sid", "pingInterval", "pingTimeout", "upgrades"]), json_values | frame_text
).map(json.dumps))  # fmt: skip
def test_any_open_data_parses_or_is_a_framing_error(data):
    try:
        info = parse_open(data)
    except FramingError:
        return
    assert info.sid and 0 < info.ping_interval <= 86_400 and 0 < info.ping_timeout <= 86_400
