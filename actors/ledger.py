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
from types import MappingProxyType
from typing import Any

import attrs

from .chat import ChatEvent


class Fate(enum.StrEnum):
    DISPATCHED = "dispatched"
    FILTERED = "filtered"
    DROPPED = "dropped"


# (event, fate, reason, detail): detail is e.g. the score breakdown of a dispatch.
FateListener = Callable[[ChatEvent, Fate, str | None, Mapping[str, Any]], None]

# The detail of a fate that has none: one read-only mapping for all of them
# (a router files most events with no detail, and a listener may keep it).
_NO_DETAIL: Mapping[str, Any] = MappingProxyType({})
_FILTERED, _DISPATCHED, _DROPPED = Fate.FILTERED, Fate.DISPATCHED, Fate.DROPPED


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

    # Each fate is recorded for every event the router takes in, so the
    # three below check and count inline, and tell the listeners in a loop
    # of their own, rather than through helper calls.

    def filter(self, event: ChatEvent, reason: str) -> None:
        if self.pending <= 0:
            self._never_pending()
        self.pending -= 1
        self.filtered[reason] += 1
        for listener in self.listeners:
            try:
                listener(event, _FILTERED, reason, _NO_DETAIL)
            except Exception:  # a broken log must not unbalance the books
                traceback.print_exc(file=sys.stderr)

    def dispatch(self, event: ChatEvent, detail: Mapping[str, Any] | None = None) -> None:
        if self.pending <= 0:
            self._never_pending()
        self.pending -= 1
        self.dispatched += 1
        self._tell(event, _DISPATCHED, None, detail or _NO_DETAIL)

    def drop(self, event: ChatEvent, reason: str, detail: Mapping[str, Any] | None = None) -> None:
        """`detail` may say why, e.g. {"error": "ValueError: ..."} for reason `error`."""
        if self.pending <= 0:
            self._never_pending()
        self.pending -= 1
        self.dropped[reason] += 1
        detail = detail or _NO_DETAIL
        for listener in self.listeners:
            try:
                listener(event, _DROPPED, reason, detail)
            except Exception:  # a broken log must not unbalance the books
                traceback.print_exc(file=sys.stderr)

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

    @staticmethod
    def _never_pending() -> None:
        raise RuntimeError("ledger: an event left the pending column that was never in it")

    def _tell(self, event: ChatEvent, fate: Fate, reason: str | None, detail: Mapping[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener(event, fate, reason, detail)
            except Exception:  # a broken log must not unbalance the books
                traceback.print_exc(file=sys.stderr)
