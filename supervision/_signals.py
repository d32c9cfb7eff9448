"""Run a supervisor until SIGINT/SIGTERM: the first stops it gracefully, the
second stops it at once.

The signal receiver stays open until the supervisor has finished. Trio
re-delivers signals still pending when the receiver closes, and a second
Ctrl-C re-delivered after we closed it would surface as a KeyboardInterrupt
traceback instead of the quick stop the user asked for.

A process needs a moment to import its modules and build its tree before
the receiver opens. A program that installs its own handler first thing
passes what that handler caught as `caught`: those signals are replayed as
soon as the receiver opens, so an early signal still stops the run
gracefully, and says so.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable

import trio

from ._runtime import Supervisor

DEFAULT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def run_until_signalled(
    supervisor: Supervisor,
    *,
    signals: Iterable[int] = DEFAULT_SIGNALS,
    on_signal: Callable[[int, bool], None] | None = None,
    caught: list[int] | None = None,
    task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run `supervisor`, stopping it on the given signals.

    `on_signal(signum, hard)` is called for each signal, before the stop
    request, so the application can log it. Signals in `caught` (taken by the
    program's own handler before the receiver opened) count as if they came
    just now; the list is emptied. Errors from the
    supervisor (IntensityExceeded, SignificantChildFailed) propagate unwrapped.
    """
    error: Exception | None = None
    with trio.open_signal_receiver(*signals) as received:
        async with trio.open_nursery() as nursery:
            hard = False

            def stop(signum: int) -> None:
                nonlocal hard
                if on_signal is not None:
                    on_signal(signum, hard)
                supervisor.stop(f"signal:{signal.Signals(signum).name}")
                hard = True

            if caught:
                early, caught[:] = list(caught), []
                for signum in early:
                    stop(signum)

            async def watch() -> None:
                async for signum in received:
                    stop(signum)

            nursery.start_soon(watch)
            try:
                await supervisor.run(task_status=task_status)
            except Exception as exc:  # unwrapped, instead of inside a group
                error = exc
            nursery.cancel_scope.cancel()
    if error is not None:
        raise error
