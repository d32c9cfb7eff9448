"""The handle one incarnation of a child gets from its supervisor."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import trio

from ._status import Hook

if TYPE_CHECKING:
    from ._runtime import Supervisor


class _Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=_Closable)


class ChildContext:
    """Readiness, the stop request and a status line, for one incarnation.

    A new context is made for every incarnation, so `stopping` and the
    resources held here never leak from one incarnation into the next.
    """

    def __init__(
        self,
        *,
        child_id: str,
        supervisor_id: str,
        incarnation: int,
        hooks: Sequence[Hook],
        on_started: Callable[[], None],
        on_status: Callable[[str, Mapping[str, Any] | None], None],
    ) -> None:
        self.id = child_id
        self.supervisor_id = supervisor_id
        self.incarnation = incarnation
        # Hooks are passed on so a nested supervisor reports to the same place.
        self.hooks = tuple(hooks)
        # Set when the supervisor asks this incarnation to stop gracefully.
        # After the child's shutdown grace it is cancelled regardless.
        self.stopping = trio.Event()
        self._on_started = on_started
        self._on_status = on_status
        self._ready = False
        self._held: list[_Closable] = []
        self._stop_scopes: set[trio.CancelScope] = set()
        self.nested: Supervisor | None = None  # set by run_nested()

    def started(self) -> None:
        """Tell the supervisor this incarnation is ready. Later calls do nothing."""
        if not self._ready:
            self._ready = True
            self._on_started()

    @property
    def ready(self) -> bool:
        return self._ready

    def set_status(self, text: str, detail: Mapping[str, Any] | None = None) -> None:
        """A free text shown in the status (systemd's `STATUS=`).

        `detail` is the same status for programs (JSON-ready): the
        application's business, passed on as it is. An application that
        shows its statuses in several languages puts a message key and its
        parameters there, and `text` is then one rendering of it."""
        self._on_status(text, detail)

    def hold(self, resource: C) -> C:
        """Close `resource` when this incarnation ends (e.g. a channel clone)."""
        self._held.append(resource)
        return resource

    @contextlib.contextmanager
    def cancel_on_stop(self) -> Iterator[trio.CancelScope]:
        """A cancel scope that is cancelled as soon as a stop is requested.

        For work that should simply end on a graceful stop, e.g. a receive
        loop: ``with ctx.cancel_on_stop(): async for x in inbox: ...``.
        The scope is forgotten when the block ends, so a loop that opens one
        per iteration holds none of the old ones.
        """
        with trio.CancelScope() as scope:
            if self.stopping.is_set():
                scope.cancel()
            self._stop_scopes.add(scope)
            try:
                yield scope
            finally:
                self._stop_scopes.discard(scope)

    # Called by the runtime only.
    def _request_stop(self) -> None:
        self.stopping.set()
        for scope in self._stop_scopes:
            scope.cancel()
        self._stop_scopes.clear()
        if self.nested is not None:
            self.nested.stop("parent")

    def _close_held(self) -> None:
        for resource in reversed(self._held):
            resource.close()
        self._held.clear()
