"""Engine.IO protocol 3 and Socket.IO protocol 2 framing, sans I/O.

Chzzk's session server speaks Socket.IO v2 over Engine.IO v3 (`EIO=3`;
reference: shared/reference/chzzk.md §2.5), which the maintained Python
clients no longer speak, so the few frames we need are done by hand here:
text in, packets out, and back. The transport (trio-websocket) lives in the
monitor; everything here is a pure function and is tested with Hypothesis.

Strict on purpose: a frame that does not parse is a FramingError (a
ValueError), never a guess, so the caller can log it and drop the frame (or
the connection) knowingly. Chzzk never sends binary packets, so those are
refused rather than half supported.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Sequence
from typing import Any

import attrs

DEFAULT_PING_INTERVAL = 25.0  # seconds, when the OPEN packet does not say (engine.io 3 defaults)
DEFAULT_PING_TIMEOUT = 60.0
MAX_INTERVAL = 86_400.0  # a day: anything longer is a broken server, not a slow one

# A length prefix longer than this many digits is garbage, not a big packet
# (and int() of thousands of digits is slow, or refused outright).
_MAX_LENGTH_DIGITS = 10
_MAX_ID_DIGITS = 16  # JavaScript numbers stay exact up to 2**53, about 9e15


class FramingError(ValueError):
    """Text or bytes that are not a valid Engine.IO / Socket.IO frame."""


# ---- Engine.IO packets ------------------------------------------------------------------------


class EngineType(enum.IntEnum):
    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


@attrs.frozen
class EnginePacket:
    type: EngineType
    data: str = ""


def encode_packet(packet: EnginePacket) -> str:
    """One packet as a WebSocket text frame: "4" + data, "2probe", "3"."""
    return f"{int(packet.type)}{packet.data}"


def decode_packet(text: str) -> EnginePacket:
    """A WebSocket text frame (or one packet of a payload) -> EnginePacket."""
    if not text:
        raise FramingError("empty packet")
    head = text[0]
    if head == "b":
        # "b4<base64>": a binary packet sent as text (b64 polling). Chzzk has
        # nothing binary to say, so it is refused, not decoded.
        raise FramingError("binary packet (base64) is not supported")
    if not "0" <= head <= "6":  # not str.isdigit(): that admits "٣" and "²"
        raise FramingError(f"unknown packet type {head!r}")
    return EnginePacket(EngineType(ord(head) - ord("0")), text[1:])


# ---- Engine.IO payloads (HTTP long-polling bodies) -----------------------------------------------


def _utf16_length(text: str) -> int:
    """JavaScript's `.length`: astral characters count twice (a surrogate pair)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def encode_payload(packets: Sequence[EnginePacket], *, binary: bool) -> bytes:
    """Packets as one polling body.

    binary=True (what a client sends without `b64`): per packet the byte 0x00
    (a string packet), its UTF-8 length as one byte per decimal digit
    (12 -> 0x01 0x02), 0xFF, then the UTF-8 packet.
    binary=False (`b64=1`): "<length>:<packet>" repeated, where the length
    counts UTF-16 code units, because engine.io-parser 2 uses JavaScript's
    string length; "😀" counts 2.
    """
    if binary:
        out = bytearray()
        for packet in packets:
            raw = encode_packet(packet).encode("utf-8")
            out.append(0x00)
            out += bytes(int(digit) for digit in str(len(raw)))
            out.append(0xFF)
            out += raw
        return bytes(out)
    text = "".join(f"{_utf16_length(encoded)}:{encoded}" for encoded in map(encode_packet, packets))
    return text.encode("utf-8")


def decode_payload(body: bytes) -> list[EnginePacket]:
    """A polling body -> its packets, in either framing (told apart by the
    first byte). FramingError on anything truncated, garbled, or binary.
    An empty body is an empty list: nothing was sent."""
    if not body:
        return []
    if body[0] == 0x01:
        raise FramingError("binary packet in payload is not supported")
    if body[0] == 0x00:
        return _decode_binary_payload(body)
    return _decode_text_payload(body)


def _decode_binary_payload(body: bytes) -> list[EnginePacket]:
    packets: list[EnginePacket] = []
    at = 0
    while at < len(body):
        kind = body[at]
        if kind == 0x01:
            raise FramingError(f"binary packet at byte {at} is not supported")
        if kind != 0x00:
            raise FramingError(f"byte {at} is {kind:#04x}, not a packet start")
        end = body.find(b"\xff", at + 1)
        if end < 0:
            raise FramingError("truncated payload: length has no 0xFF terminator")
        digits = body[at + 1 : end]
        if not digits or len(digits) > _MAX_LENGTH_DIGITS or any(d > 9 for d in digits):
            raise FramingError(f"bad length digits at byte {at}")
        length = int("".join(str(d) for d in digits))
        start, at = end + 1, end + 1 + length
        if at > len(body):
            raise FramingError(f"truncated payload: packet needs {length} bytes, {len(body) - start} left")
        try:
            text = body[start:at].decode("utf-8")
        except UnicodeDecodeError:
            raise FramingError(f"packet at byte {start} is not UTF-8") from None
        packets.append(decode_packet(text))
    return packets


def _decode_text_payload(body: bytes) -> list[EnginePacket]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FramingError("payload is not UTF-8") from None
    packets: list[EnginePacket] = []
    at = 0
    while at < len(text):
        colon = text.find(":", at, at + _MAX_LENGTH_DIGITS + 1)
        digits = text[at:colon] if colon >= 0 else ""
        if not digits or not (digits.isascii() and digits.isdigit()):
            raise FramingError(f"bad length prefix at character {at}")
        length = int(digits)
        # Walk code points until `length` UTF-16 units are consumed; landing
        # inside a surrogate pair means the length is wrong.
        start = end = colon + 1
        units = 0
        while units < length and end < len(text):
            units += 2 if ord(text[end]) > 0xFFFF else 1
            end += 1
        if units != length:
            raise FramingError(f"packet at character {start} is shorter than its length {length}")
        packets.append(decode_packet(text[start:end]))
        at = end
    return packets


# ---- Socket.IO packets (inside an Engine.IO MESSAGE) ------------------------------------------------


class SocketType(enum.IntEnum):
    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


_BINARY_TYPES = (SocketType.BINARY_EVENT, SocketType.BINARY_ACK)


@attrs.frozen
class SocketPacket:
    type: SocketType
    data: Any = None
    namespace: str = "/"
    id: int | None = None


def _refuse_constant(name: str) -> Any:
    # json.loads accepts NaN and Infinity; no Socket.IO peer sends them.
    raise FramingError(f"{name} is not JSON")


def encode_socket(packet: SocketPacket) -> str:
    """The Socket.IO part of a MESSAGE (what follows the engine "4"):
    type digit, "/nsp," unless the namespace is "/", the ack id if any,
    then the data as compact JSON if it is not None.

    FramingError for what would not read back as the same packet: binary
    types, a namespace without a leading "/" or with a ",", a negative id,
    data that is not JSON, or data that is a bare number (its digits would
    be read as an ack id)."""
    if packet.type in _BINARY_TYPES:
        raise FramingError("binary Socket.IO packets are not supported")
    out = [str(int(packet.type))]
    if packet.namespace != "/":
        if not packet.namespace.startswith("/") or "," in packet.namespace:
            raise FramingError(f"bad namespace {packet.namespace!r}")
        out.append(f"{packet.namespace},")
    if packet.id is not None:
        if packet.id < 0:
            raise FramingError(f"negative ack id {packet.id}")
        out.append(str(packet.id))
    if packet.data is not None:
        try:
            data = json.dumps(packet.data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise FramingError(f"data is not JSON: {exc}") from exc
        if data[0].isdigit():
            raise FramingError("a bare number as data would read back as an ack id")
        out.append(data)
    return "".join(out)


def decode_socket(text: str) -> SocketPacket:
    """The inverse of encode_socket. Unlike chzzkpy's parser, an id of "17"
    is 17 (chzzkpy repeats the first digit and gets 117)."""
    if not text:
        raise FramingError("empty Socket.IO packet")
    head = text[0]
    if not "0" <= head <= "6":
        raise FramingError(f"unknown Socket.IO packet type {head!r}")
    kind = SocketType(ord(head) - ord("0"))
    if kind in _BINARY_TYPES:
        raise FramingError("binary Socket.IO packets are not supported")
    at = 1
    namespace = "/"
    if text.startswith("/", at):
        # socket.io-parser 3 reads up to a "," or to the end ("0/chat" is a
        # connect to /chat with nothing after it).
        comma = text.find(",", at)
        end = len(text) if comma < 0 else comma
        namespace = text[at:end]
        at = end + 1 if comma >= 0 else end
    start = at
    while at < len(text) and "0" <= text[at] <= "9":
        at += 1
    packet_id = None
    if at > start:
        if at - start > _MAX_ID_DIGITS:
            raise FramingError(f"ack id {text[start:at][:20]!r}... is too long")
        packet_id = int(text[start:at])
    data = None
    if at < len(text):
        try:
            data = json.loads(text[at:], parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, huge ints, deep nesting
            raise FramingError(f"data is not JSON: {exc}") from None
    return SocketPacket(kind, data, namespace, packet_id)


def event_frame(name: str, *args: Any) -> str:
    """The whole engine text frame of an event: '42["name",...]'."""
    return encode_packet(EnginePacket(EngineType.MESSAGE, encode_socket(SocketPacket(SocketType.EVENT, [name, *args]))))


def parse_event(packet: SocketPacket) -> tuple[str, list[Any]]:
    """An EVENT packet -> (name, arguments)."""
    if packet.type is not SocketType.EVENT:
        raise FramingError(f"{packet.type.name} packet is not an event")
    data = packet.data
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        raise FramingError("event data is not a list starting with a name")
    return data[0], data[1:]


# ---- the OPEN packet ---------------------------------------------------------------------------------


@attrs.frozen
class OpenInfo:
    sid: str
    ping_interval: float  # seconds
    ping_timeout: float  # seconds
    upgrades: tuple[str, ...]


def _millis(value: object, name: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= _MAX_LENGTH_DIGITS:
        millis = float(int(value))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        millis = float(value)
    else:
        raise FramingError(f"{name} is {value!r}, not a number of milliseconds")
    seconds = millis / 1000
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_INTERVAL):
        raise FramingError(f"{name} of {value!r} ms is not a usable interval")
    return seconds


def parse_open(data: str) -> OpenInfo:
    """The OPEN packet's JSON (`0{"sid":…,"pingInterval":25000,…}` minus
    the "0") -> OpenInfo, with the intervals in seconds."""
    try:
        body = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise FramingError(f"OPEN data is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise FramingError("OPEN data is not a JSON object")
    sid = body.get("sid")
    if not isinstance(sid, str) or not sid:
        raise FramingError("OPEN data has no sid")
    upgrades = body.get("upgrades")
    # Informational only (we connect by WebSocket directly): a strange value
    # is ignored rather than fatal.
    names = tuple(u for u in upgrades if isinstance(u, str)) if isinstance(upgrades, list) else ()
    return OpenInfo(
        sid=sid,
        ping_interval=_millis(body.get("pingInterval"), "pingInterval", DEFAULT_PING_INTERVAL),
        ping_timeout=_millis(body.get("pingTimeout"), "pingTimeout", DEFAULT_PING_TIMEOUT),
        upgrades=names,
    )
