"""One archive line as the report reads it: the message and what became of it.

The archive is a file, so as hostile as a platform (it may have been edited,
cut short by a crash, or written by an older version): every line crosses
the same boundary as a replayed record (`records.event_from_dict`, which
cleans names, ids, texts and amounts), and the archive's own fields are
checked here. A line that cannot be read is an error for that line only;
a field that is merely odd (a reply that is not text, a wait that is not a
number) is taken as absent rather than costing the message.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from ..boundary import clean_text
from ..chat import ChatEvent
from ..records import BadRecord, RecordError, build_raw_line, event_from_dict, parse_time, raw_lines
from ..router.text import sanitize

FATES = ("dispatched", "filtered", "dropped")
MAX_CODE = 40  # graphemes: reasons and outcomes are short codes; a longer one is shown cut


@attrs.frozen(slots=True)
class Entry:
    """A message of the archive and its fate, cleaned.

    `answered` is a message whose turn was written (it has `turn`); a
    dispatched message without one was being spoken when the service
    stopped. `asker` marks a message answered as one more asker of a crowd
    (`merged_into`): it shares its leader's turn, so turns are counted on
    the messages that are not askers.
    """

    event: ChatEvent
    fate: str
    reason: str | None
    reply: str | None = None
    answered: bool = False
    asker: bool = False
    outcome: str | None = None
    started: datetime | None = None
    wait_s: float | None = None

    @property
    def category(self) -> str:
        """The chart's category: answered, in_progress, filtered:<r> or dropped:<r>."""
        if self.fate == "dispatched":
            return "answered" if self.answered else "in_progress"
        return f"{self.fate}:{self.reason or 'unknown'}"


def _code(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return sanitize(value, max_graphemes=MAX_CODE) or None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _started(turn: dict[str, Any]) -> datetime | None:
    timeline = turn.get("timeline")
    started = timeline.get("started") if isinstance(timeline, dict) else None
    if not isinstance(started, str):
        return None
    try:
        return parse_time(started)
    except BadRecord:
        return None


def entry_from_dict(obj: dict[str, Any]) -> Entry:
    event = event_from_dict(obj)  # raises BadRecord for what the replay would skip
    fate = obj.get("fate")
    if fate not in FATES:
        shown = _code(fate) if isinstance(fate, str) else type(fate).__name__
        raise BadRecord(f"'fate' is {shown!r}, not one of {', '.join(FATES)}")
    reply = obj.get("reply")
    turn = obj.get("turn")
    answered = fate == "dispatched" and isinstance(turn, dict)
    return Entry(
        event=event,
        fate=fate,
        reason=None if fate == "dispatched" else _code(obj.get("reason")),
        reply=clean_text(reply) if answered and isinstance(reply, str) else None,
        answered=answered,
        asker=answered and isinstance(obj.get("merged_into"), dict),
        outcome=_code(turn.get("outcome")) if answered and isinstance(turn, dict) else None,
        started=_started(turn) if answered and isinstance(turn, dict) else None,
        wait_s=_number(obj.get("wait_s")) if answered else None,
    )


def read_archive(path: Path) -> Iterator[Entry | RecordError]:
    """Every non-blank line of the archive, in file order: an entry, or
    the error that skips that line. One line in memory at a time."""
    with path.open("rb") as file:
        for lineno, raw, _ in raw_lines(file):
            if raw is None:
                yield RecordError(lineno, "longer than a record can be: skipped")
            elif raw.strip():
                yield build_raw_line(raw, lineno, entry_from_dict)
