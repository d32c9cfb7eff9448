"""The chat archive: every event that reached the router, with its fate.

One JSON Lines record per event, in the very format the replay monitor
reads, plus `fate`, `reason` and `score`. So a streamer can record tonight's
chat and tune filters on it tomorrow: replaying the archive with the same
config gives the same filter fates, because filters are deterministic (they
measure time on the platform's `sent_at`). Queue fates (overflow, expired)
depend on how fast the VTuber spoke, so those can differ between runs.

Lines are written as fates happen, line-buffered, so a crash loses at most
the line being written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .chat import ChatEvent
from .ledger import Fate
from .records import format_record


class Archive:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8", buffering=1)

    def __call__(self, event: ChatEvent, fate: Fate, reason: str | None, detail: Mapping[str, Any]) -> None:
        score = dict(detail) if "total" in detail else None
        self._file.write(format_record(event, fate=fate.value, reason=reason, score=score, reply=None) + "\n")

    def close(self) -> None:
        self._file.close()
