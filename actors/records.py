"""JSON Lines records: the replay monitor's input and the archive's output.

One record per line, the ChatEvent fields plus, in the archive, its fate.
Parsing is lenient where it costs nothing (unknown fields are ignored) and
strict where a wrong value would mislead the router (a kind or role we do not
know, money that is not a decimal). A bad line is an error *value* carrying
its line number, so a reader can report it and go on: one broken line in a
recording must never lose the rest of the night's chat.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO, TypeVar

import attrs

from .boundary import clean_event
from .chat import Amount, Author, ChatEvent, Kind, ModerationTarget, Platform, Role

T = TypeVar("T")


@attrs.frozen
class RecordError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class BadRecord(ValueError):
    """What is wrong with one record (its line is skipped with this message)."""


def _field(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    if key not in obj:
        raise BadRecord(f"missing '{where}{key}'")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise BadRecord(f"'{where}{key}' has the wrong type ({type(value).__name__})")
    return value


def _enum(enum_type: type[Any], value: str, what: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        choices = ", ".join(m.value for m in enum_type)
        raise BadRecord(f"unknown {what} {value!r} (expected one of {choices})") from None


def _role(value: object) -> Role:
    if not isinstance(value, str):
        raise BadRecord(f"author.roles holds {value!r}, not a role name")
    role: Role = _enum(Role, value, "role")
    return role


def parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadRecord(f"sent_at {text!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise BadRecord(f"sent_at {text!r} has no time zone")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00:00+05:00" has no UTC time
        raise BadRecord(f"sent_at {text!r} is out of range") from None


def format_time(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_from_dict(obj: dict[str, Any]) -> ChatEvent:
    author = _field(obj, "author", dict)
    roles = _field(author, "roles", list, "author.")
    amount_obj = obj.get("amount")
    amount = None
    if amount_obj is not None:
        if not isinstance(amount_obj, dict):
            raise BadRecord("'amount' must be an object or null")
        raw = _field(amount_obj, "value", str, "amount.")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise BadRecord(f"amount.value {raw!r} is not a decimal string") from None
        if not value.is_finite():
            raise BadRecord(f"amount.value {raw!r} is not a finite decimal")
        amount = Amount(
            value, _field(amount_obj, "currency", str, "amount."), _field(amount_obj, "display", str, "amount.")
        )
    target = None
    target_obj = obj.get("target")
    if target_obj is not None:
        if not isinstance(target_obj, dict):
            raise BadRecord("'target' must be an object or null")
        everything = target_obj.get("all", False)
        if not isinstance(everything, bool):
            raise BadRecord("target.all must be true or false")
        target = ModerationTarget(
            message_id=target_obj.get("id"), author_id=target_obj.get("author_id"), everything=everything
        )
        if not isinstance(target.message_id, str | None) or not isinstance(target.author_id, str | None):
            raise BadRecord("target.id and target.author_id must be strings")
    event = ChatEvent(
        platform=_enum(Platform, _field(obj, "platform", str), "platform"),
        id=_field(obj, "id", str),
        kind=_enum(Kind, _field(obj, "kind", str), "kind"),
        author=Author(
            id=_field(author, "id", str, "author."),
            name=_field(author, "name", str, "author."),
            roles=frozenset(_role(r) for r in roles),
        ),
        text=_field(obj, "text", str),
        amount=amount,
        sent_at=parse_time(_field(obj, "sent_at", str)),
        target=target,
    )
    # A file is as hostile as a platform: the same cleaning as every monitor's.
    event, problem = clean_event(event)
    if problem is not None:
        raise BadRecord(problem)
    return event


def event_to_dict(event: ChatEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "platform": event.platform.value,
        "id": event.id,
        "kind": event.kind.value,
        "author": {
            "id": event.author.id,
            "name": event.author.name,
            "roles": sorted(r.value for r in event.author.roles),
        },
        "text": event.text,
        "amount": None
        if event.amount is None
        else {"value": str(event.amount.value), "currency": event.amount.currency, "display": event.amount.display},
        "sent_at": format_time(event.sent_at),
    }
    if event.target is not None:
        target: dict[str, str | bool] = {}
        if event.target.message_id is not None:
            target["id"] = event.target.message_id
        if event.target.author_id is not None:
            target["author_id"] = event.target.author_id
        if event.target.everything:
            target["all"] = True
        out["target"] = target
    return out


MAX_RECORD_BYTES = 1 << 20  # no chat record is near this; a longer line is skipped, not read whole


def load_object(line: str, lineno: int) -> dict[str, Any] | RecordError:
    """One line as a JSON object, or what keeps it from being one."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return RecordError(lineno, f"not JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return RecordError(lineno, "not readable: nested too deep")
    except ValueError as exc:  # an integer past Python's 4300-digit limit
        return RecordError(lineno, f"not readable: a number too large ({str(exc).split(';')[0]})")
    if not isinstance(obj, dict):
        return RecordError(lineno, "not a JSON object")
    return obj


def parse_line(line: str, lineno: int) -> ChatEvent | RecordError:
    return build_line(line, lineno, event_from_dict)


def build_line(line: str, lineno: int, build: Callable[[dict[str, Any]], T]) -> T | RecordError:
    """One line through `build` (a ChatEvent for the replay; the report's
    reader takes the archive's fields too), or the error for this line only."""
    obj = load_object(line, lineno)
    if isinstance(obj, RecordError):
        return obj
    try:
        return build(obj)
    except BadRecord as exc:
        return RecordError(lineno, str(exc))


def parse_raw_line(raw: bytes, lineno: int) -> ChatEvent | RecordError:
    return build_raw_line(raw, lineno, event_from_dict)


def build_raw_line(raw: bytes, lineno: int, build: Callable[[dict[str, Any]], T]) -> T | RecordError:
    """One line as read from a file: strict UTF-8 first, so a bad byte costs its line only.
    Total: whatever a line holds, it becomes a record or an error for that line."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RecordError(lineno, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
    try:
        return build_line(line, lineno, build)
    except Exception as exc:  # a case nobody foresaw must still cost this line only
        return RecordError(lineno, f"not readable ({type(exc).__name__}: {exc})")


def read_records(lines: Iterable[str]) -> Iterator[tuple[int, ChatEvent | RecordError]]:
    """(line number, event or error) for each non-blank line; numbers start at 1."""
    for lineno, line in enumerate(lines, start=1):
        if line.strip():
            yield lineno, parse_line(line, lineno)


def read_raw_records(
    file: BinaryIO, *, first_lineno: int, max_bytes: int
) -> tuple[list[tuple[int, ChatEvent | RecordError]], int, bool]:
    """Read whole lines from `file` until about `max_bytes` are consumed.
    Returns (records, next line number, end of file). Blocking: the replay
    runs it in a worker thread."""
    out: list[tuple[int, ChatEvent | RecordError]] = []
    lines = raw_lines(file, first_lineno=first_lineno)
    consumed = 0
    lineno = first_lineno
    while consumed < max_bytes:
        item = next(lines, None)
        if item is None:
            return out, lineno, True
        lineno, raw, size = item
        consumed += size
        if raw is not None and raw.strip():
            out.append((lineno, parse_raw_line(raw, lineno)))
        elif raw is None:
            out.append((lineno, RecordError(lineno, f"longer than {MAX_RECORD_BYTES} bytes: skipped")))
        lineno += 1
    return out, lineno, False


def raw_lines(file: BinaryIO, *, first_lineno: int = 1) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number, the line without its end or None if too long, bytes consumed).

    Records are split on `\n` only: U+2028, U+0085, `\v` or `\f` inside a
    name or a text are data, not line ends (`str.splitlines` broke records
    holding them). A line longer than MAX_RECORD_BYTES is skipped without
    being held whole, so memory stays bounded whatever the file holds.
    """
    lineno = first_lineno
    while raw := file.readline(MAX_RECORD_BYTES + 1):
        size = len(raw)
        if size > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
            while (rest := file.readline(MAX_RECORD_BYTES)) and not rest.endswith(b"\n"):
                size += len(rest)
            yield lineno, None, size + len(rest)
        else:
            yield lineno, raw.rstrip(b"\r\n"), size
        lineno += 1


def format_record(event: ChatEvent, **extra: Any) -> str:
    """One JSON line (no newline). `extra` adds archive fields like fate."""
    return json.dumps(event_to_dict(event) | extra, ensure_ascii=False, separators=(", ", ": "))
