"""The chat archive: every event that reached the router, with its fate.

One JSON Lines record per event, in the very format the replay monitor
reads, plus `fate`, `reason` and `score`. So a streamer can record tonight's
chat and tune filters on it tomorrow: replaying the archive with the same
config gives the same filter fates, because filters are deterministic (they
measure time on the platform's `sent_at`). Queue fates (overflow, expired)
depend on how fast the VTuber spoke, so those can differ between runs.

Lines are written as fates happen, line-buffered. A dispatched message is
written when its turn ends, with the AI's reply and the turn's timings
(`reply`, `turn`), so a crash loses at most the turn being spoken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .chat import ChatEvent
from .ledger import Fate
from .records import format_record


class Archive:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8", buffering=1)
        # Dispatched, waiting for their turn to end: (event, score) by identity.
        self._speaking: dict[int, tuple[ChatEvent, dict[str, Any] | None]] = {}

    def __call__(self, event: ChatEvent, fate: Fate, reason: str | None, detail: Mapping[str, Any]) -> None:
        score = dict(detail) if "total" in detail else None
        if fate is Fate.DISPATCHED:
            self._speaking[id(event)] = (event, score)
            return
        self._write(event, fate, reason, score)

    def turn_ended(self, events: Sequence[ChatEvent], fields: Mapping[str, Any]) -> None:
        """The session's report of a turn: its messages are written now, with the reply."""
        turn = {k: v for k, v in fields.items() if k not in ("id", "reply")}
        for event in events:
            held = self._speaking.pop(id(event), None)
            if held is not None:
                self._write(event, Fate.DISPATCHED, None, held[1], reply=fields.get("reply"), turn=turn)

    def close(self) -> None:
        for event, score in self._speaking.values():  # the service stopped mid-turn
            self._write(event, Fate.DISPATCHED, None, score)
        self._speaking.clear()
        self._file.close()

    def _write(
        self,
        event: ChatEvent,
        fate: Fate,
        reason: str | None,
        score: dict[str, Any] | None,
        *,
        reply: str | None = None,
        turn: Mapping[str, Any] | None = None,
    ) -> None:
        extra: dict[str, Any] = {"fate": fate.value, "reason": reason, "score": score, "reply": reply}
        if turn is not None:
            extra["turn"] = dict(turn)
        self._file.write(format_record(event, **extra) + "\n")
