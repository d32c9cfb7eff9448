"""The chat archive: every event that reached the router, with its fate.

One JSON Lines record per event, in the very format the replay monitor
reads, plus `fate`, `reason` and `score`. So a streamer can record tonight's
chat and tune filters on it tomorrow: replaying the archive with the same
config gives the same filter fates, because filters are deterministic (they
measure time on the platform's `sent_at`). Queue fates (overflow, expired)
depend on how fast the VTuber spoke, and so does `answered` (what the AI
had answered by then), so those can differ between runs.

Lines are written as fates happen, line-buffered. A dispatched message is
written when its turn ends, with the AI's reply and the turn's timings
(`reply`, `turn`), so a crash loses at most the turn being spoken. A turn
that answered a crowd (several viewers saying the same thing) writes every
asker: the leader's record lists them all (`askers`), each other's names
the leader's message (`merged_into`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .chat import ChatEvent, one_per_viewer
from .ledger import Fate
from .records import format_record
from .timeline import started_of, wait_s


class Archive:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8", buffering=1)
        # Dispatched, waiting for their turn to end: (event, score) by identity.
        self._speaking: dict[int, tuple[ChatEvent, dict[str, Any] | None]] = {}
        # Dispatched as one more asker of a crowd: its leader, by identity.
        # The buffer dispatches a crowd's leader, then its askers at once.
        self._merged: dict[int, ChatEvent] = {}
        self._last_leader: ChatEvent | None = None

    def __call__(self, event: ChatEvent, fate: Fate, reason: str | None, detail: Mapping[str, Any]) -> None:
        score = dict(detail) if "total" in detail else None
        if fate is Fate.DISPATCHED:
            self._speaking[id(event)] = (event, score)
            leader = self._last_leader
            if "merged_into" not in detail:
                self._last_leader = event
            elif leader is not None and detail["merged_into"] == leader.id:
                self._merged[id(event)] = leader
            return
        self._write(event, fate, reason, score)

    def turn_ended(self, events: Sequence[ChatEvent], fields: Mapping[str, Any]) -> None:
        """The session's report of a turn: its messages are written now, with
        the reply. A crowd's leader lists every asker; each other asker names
        the leader it was merged into. A turn cut off and put back is not
        the answer: its messages are written when they are answered again."""
        if fields.get("put_back"):
            return
        turn = {k: v for k, v in fields.items() if k not in ("id", "reply", "wait_s")}
        started = started_of(fields)  # each message waited from its own posting
        for event in events:
            held = self._speaking.pop(id(event), None)
            if held is not None:
                self._write(
                    event,
                    Fate.DISPATCHED,
                    None,
                    held[1],
                    reply=fields.get("reply"),
                    turn=turn,
                    crowd=events,
                    wait=wait_s(event.sent_at, started),
                )

    def close(self) -> None:
        speaking = [event for event, _ in self._speaking.values()]
        for event, score in list(self._speaking.values()):  # the service stopped mid-turn
            self._write(event, Fate.DISPATCHED, None, score, crowd=speaking)
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
        crowd: Sequence[ChatEvent] = (),
        wait: float | None = None,
    ) -> None:
        extra: dict[str, Any] = {"fate": fate.value, "reason": reason, "score": score, "reply": reply}
        if turn is not None:
            extra["turn"] = dict(turn)
            extra["wait_s"] = wait  # posted -> the answer started (see timeline.py)
        leader = self._merged.pop(id(event), None)
        if leader is not None:
            extra["merged_into"] = {"platform": leader.platform.value, "id": leader.id}
        else:
            askers = [e for e in crowd if self._merged.get(id(e)) is event]
            if askers:
                extra["askers"] = [
                    {"platform": e.platform.value, "id": e.author.id, "name": e.author.name}
                    for e in one_per_viewer((event, *askers))
                ]
        self._file.write(format_record(event, **extra) + "\n")
