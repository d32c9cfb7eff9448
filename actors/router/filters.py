"""Filters: pure decisions about one event, each with its fate reason."""

from __future__ import annotations

from collections import OrderedDict

from ..chat import ChatEvent


class RecentIds:
    """Message ids seen lately, bounded (LRU), to drop resends after reconnects.

    Platforms resend their backlog when a monitor reconnects; the id is the
    only thing that tells a resend from a new message. The bound keeps a
    week-long stream from growing memory.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def seen_before(self, event: ChatEvent) -> bool:
        """True if this id was seen; records it either way."""
        key = (event.platform.value, event.id)
        if key in self._seen:
            self._seen.move_to_end(key)
            return True
        self._seen[key] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._seen)
