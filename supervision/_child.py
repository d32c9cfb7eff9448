"""The runtime's private record of one child, and the coordinator's messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import trio

from ._context import ChildContext
from ._policy import ChildState, Outcome
from ._spec import ChildSpec
from ._status import ChildStatus, ExitInfo

ACTIVE = (ChildState.STARTING, ChildState.RUNNING, ChildState.STOPPING)


class ChildRecord:
    """The runtime's private, mutable record of one child spec."""

    def __init__(self, spec: ChildSpec, index: int) -> None:
        self.spec = spec
        self.index = index
        self.state = ChildState.STARTING
        self.incarnation = 0
        self.restarts = 0
        self.failures = 0  # consecutive, the backoff exponent
        self.ready_at: float | None = None
        self.last_exit: ExitInfo | None = None
        self.restart_at: float | None = None
        self.last_delay: float | None = None
        self.status_text = ""
        self.status_detail: Mapping[str, Any] | None = None
        # The live incarnation, if any.
        self.ctx: ChildContext | None = None
        self.scope = trio.CancelScope()
        self.done = trio.Event()
        self.done.set()  # nothing is running yet
        self.settled = trio.Event()  # ready, or ended before it was ready
        self.stop_requested = False  # the current incarnation was asked to stop

    @property
    def alive(self) -> bool:
        return not self.done.is_set()

    def status(self, now: float) -> ChildStatus:
        nested = self.ctx.nested if self.ctx is not None else None
        return ChildStatus(
            id=self.spec.id,
            kind=self.spec.kind,
            restart=self.spec.restart.value,
            significant=self.spec.significant,
            state=self.state,
            incarnation=self.incarnation,
            restarts=self.restarts,
            consecutive_failures=self.failures,
            uptime_s=None if self.ready_at is None or not self.alive else now - self.ready_at,
            last_exit=self.last_exit,
            next_restart_in_s=(
                max(0.0, self.restart_at - now)
                if self.state is ChildState.BACKING_OFF and self.restart_at is not None
                else None
            ),
            last_delay_s=self.last_delay,
            status_text=self.status_text,
            status_detail=self.status_detail,
            children=nested.snapshot() if nested is not None else None,
        )


@attrs.frozen
class Exited:
    child: ChildRecord
    incarnation: int
    outcome: Outcome
    error: Exception | None


@attrs.frozen
class StopRequest:
    reason: str


@attrs.frozen(eq=False)
class ChildCommand:
    """stop_child / start_child, carried out by the coordinator in turn."""

    child_id: str
    start: bool  # True: start_child, False: stop_child
    done: trio.Event = attrs.field(factory=trio.Event)
    result: list[bool] = attrs.field(factory=list)  # the answer, once done
