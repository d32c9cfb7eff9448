"""The streamer's "skip": cut the answer in progress short.

The cockpit (the control surface) does not know which session runs, or
whether one does: the session of the moment attaches how it cuts its own
turn short (the OLV session interrupts OLV with what the audience heard; the
console stops speaking), and detaches when its incarnation ends. Pausing
needs no session's help: the buffer hands nothing out while paused.
"""

from __future__ import annotations

from collections.abc import Callable

Cut = Callable[[], bool]  # True if there was an answer in progress to cut


class Skipper:
    def __init__(self) -> None:
        self._cut: Cut | None = None

    def attach(self, cut: Cut) -> None:
        self._cut = cut

    def detach(self, cut: Cut) -> None:
        if self._cut is cut:  # a later incarnation may have attached already
            self._cut = None

    def skip(self) -> bool:
        """Cut the answer in progress; False if nothing is being answered."""
        return self._cut is not None and self._cut()
