"""The fate ledger: the service's conservation law, kept in one place.

Every ChatEvent that reaches the router ends in exactly one fate:
dispatched, filtered:<reason> or dropped:<reason>. Until then it is pending.
So at every moment::

    received == dispatched + filtered + dropped + pending

An event is pending from the moment it is received: `receive` counts it in
both columns, and every fate moves it out of pending. So the law holds at
every instant, even if the router fails halfway through deciding (the event
in hand is then dropped with reason `error`). Listeners are told each fate,
which is how the status log, and later the archive and the dashboard, see
them; a listener that fails is reported and never changes the counts.
"""

from __future__ import annotations

import enum
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .chat import ChatEvent


class Fate(enum.StrEnum):
    DISPATCHED = "dispatched"
    FILTERED = "filtered"
    DROPPED = "dropped"


# (event, fate, reason, detail): detail is e.g. the score breakdown of a dispatch.
FateListener = Callable[[ChatEvent, Fate, str | None, Mapping[str, Any]], None]


@attrs.define
class Ledger:
    listeners: list[FateListener] = attrs.field(factory=list)
    received: int = 0
    dispatched: int = 0
    filtered: Counter[str] = attrs.field(factory=Counter)
    dropped: Counter[str] = attrs.field(factory=Counter)
    pending: int = 0

    def receive(self, event: ChatEvent) -> None:
        """The router took an event in: it is pending until it has a fate."""
        self.received += 1
        self.pending += 1

    def filter(self, event: ChatEvent, reason: str) -> None:
        self._leave_pending()
        self.filtered[reason] += 1
        self._tell(event, Fate.FILTERED, reason)

    def dispatch(self, event: ChatEvent, detail: Mapping[str, Any] | None = None) -> None:
        self._leave_pending()
        self.dispatched += 1
        self._tell(event, Fate.DISPATCHED, None, detail)

    def drop(self, event: ChatEvent, reason: str, detail: Mapping[str, Any] | None = None) -> None:
        """`detail` may say why, e.g. {"error": "ValueError: ..."} for reason `error`."""
        self._leave_pending()
        self.dropped[reason] += 1
        self._tell(event, Fate.DROPPED, reason, detail)

    @property
    def balanced(self) -> bool:
        return self.received == self.dispatched + self.filtered.total() + self.dropped.total() + self.pending

    def to_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "dispatched": self.dispatched,
            "filtered": dict(sorted(self.filtered.items())),
            "dropped": dict(sorted(self.dropped.items())),
            "pending": self.pending,
        }

    def summary(self) -> str:
        """The conservation line, e.g. 'received 9 = dispatched 4 + filtered 2 + dropped 1 + pending 2'."""
        return (
            f"received {self.received} = dispatched {self.dispatched} + filtered {self.filtered.total()}"
            f" + dropped {self.dropped.total()} + pending {self.pending}"
        )

    def _leave_pending(self) -> None:
        if self.pending <= 0:
            raise RuntimeError("ledger: an event left the pending column that was never in it")
        self.pending -= 1

    def _tell(self, event: ChatEvent, fate: Fate, reason: str | None, detail: Mapping[str, Any] | None = None) -> None:
        for listener in self.listeners:
            try:
                listener(event, fate, reason, detail or {})
            except Exception:  # a broken log must not unbalance the books
                traceback.print_exc(file=sys.stderr)
