"""The Trio runtime: one coordinator task per supervisor, one task per incarnation.

Design notes
------------

* The coordinator owns every decision. Incarnation tasks only run the target
  and post an `Exited` message to the coordinator's mailbox; the coordinator
  applies the pure policy (`_policy.decide`) to it. One task deciding means no
  two decisions race, and the order of events in the log is the order in
  which they were decided.
* Backoff sleeps are not tasks: a child that is backing off has a
  `restart_at` deadline, and the coordinator waits on its mailbox with
  `trio.move_on_at(earliest deadline)`. So "stop during backoff is immediate"
  holds by construction: there is no sleeping task to cancel, we just stop
  waiting for the deadline.
* Every incarnation runs in its own CancelScope, so the supervisor can cancel
  exactly one child. `ready_timeout` is that scope's deadline until the child
  calls `ctx.started()`; no watcher task is needed.
* Stopping asks first (`ctx.stopping`), waits up to the child's `shutdown`
  grace, then cancels. Trio cannot kill a task: a child that shields itself
  forever is reported (`child.stop_timeout`) but still waited for.
* `stop_child` / `start_child` are commands in the same mailbox, so they
  are decided in turn with exits and restarts. A child stopped on request
  is `stopped`: not a failure (no counter moves), never restarted, not even
  with a rest_for_one or one_for_all sibling, until `start_child`.
* Only `Exception` is a failure. `Cancelled` coming from outside and
  `KeyboardInterrupt` pass straight through the incarnation task and tear
  the nursery down, as they should.
"""

from __future__ import annotations

import math
import random
import sys
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import trio

from ._child import ACTIVE, ChildCommand, ChildRecord, Exited, StopRequest
from ._context import ChildContext
from ._exceptions import IntensityExceeded, SignificantChildFailed, StartTimeout
from ._policy import (
    Action,
    ChildState,
    Outcome,
    RestartWindow,
    backoff_delay,
    check_transition,
    decide,
    describe_error,
    failures_before_exit,
    single_child_can_exceed,
)
from ._spec import AutoShutdown, Restart, Strategy, SupervisorSpec
from ._status import Event, ExitInfo, Hook, SupervisorStatus, error_detail


class Supervisor:
    """Runs the children of one SupervisorSpec. Run it once.

    ``await nursery.start(sup.run)`` returns once every child has called
    ``ctx.started()`` (or ended trying), in start order. ``sup.stop()`` asks
    for a graceful stop; a second call cancels everything at once.
    ``run`` returns normally after a stop, and raises IntensityExceeded or
    SignificantChildFailed when it had to stop because of a failure.
    """

    def __init__(self, spec: SupervisorSpec, *, hooks: Sequence[Hook] = (), rng: random.Random | None = None) -> None:
        self.spec = spec
        self._hooks = tuple(hooks)
        self._rng = rng if rng is not None else random.Random()
        self._children = [ChildRecord(c, i) for i, c in enumerate(spec.children)]
        self._window = RestartWindow(spec.intensity, spec.period)
        self._send, self._recv = trio.open_memory_channel[Exited | StopRequest | ChildCommand](math.inf)
        self._state = "starting"
        self._stop_reason: str | None = None
        self._stop_called = False
        self._failure: Exception | None = None
        self._hard = False
        self._ran = False
        self._nursery: trio.Nursery | None = None
        # Whatever the coordinator is waiting on that a stop must interrupt.
        self._interrupt: trio.CancelScope | None = None
        self._grace: trio.CancelScope | None = None
        self._finished = trio.Event()

    # ---- public API -------------------------------------------------------

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def state(self) -> str:
        return self._state

    def stop(self, reason: str = "requested") -> None:
        """First call: graceful stop. A second call: cancel everything now.

        Only calls count: a stop the supervisor began itself (auto-shutdown,
        intensity) is already graceful, and the first stop() during it
        changes nothing, so one Ctrl-C never cuts a turn short.
        """
        if self._finished.is_set():
            return
        if self._stop_called:
            self._hard_stop()
            return
        self._stop_called = True
        if self._stop_reason is None:
            self._stop_reason = reason
            self._send.send_nowait(StopRequest(reason))
            if self._interrupt is not None:
                self._interrupt.cancel()

    async def wait_finished(self) -> None:
        await self._finished.wait()

    def child_supervisor(self, child_id: str) -> Supervisor | None:
        """The nested supervisor a child runs (see supervisor_child), while it runs."""
        for child in self._children:
            if child.spec.id == child_id:
                return child.ctx.nested if child.ctx is not None and child.alive else None
        raise KeyError(f"supervisor {self.spec.id!r} has no child {child_id!r}")

    async def stop_child(self, child_id: str) -> bool:
        """Stop one child on request (asked, then its grace, then cancelled).
        It stays `stopped`, with no restart and no failure counted, until
        start_child. True once it is stopped; False if the supervisor is not
        running. KeyError for an unknown id."""
        return await self._command(child_id, start=False)

    async def start_child(self, child_id: str) -> bool:
        """Start a child that was stopped (or had exited or failed for good),
        with a fresh failure count. True if it is starting or already up."""
        return await self._command(child_id, start=True)

    async def _command(self, child_id: str, *, start: bool) -> bool:
        if not any(c.spec.id == child_id for c in self._children):
            raise KeyError(f"supervisor {self.spec.id!r} has no child {child_id!r}")
        if self._state != "running" or self._stop_reason is not None:
            return False
        command = ChildCommand(child_id, start)
        self._send.send_nowait(command)
        await command.done.wait()
        return command.result[0]

    def snapshot(self) -> SupervisorStatus:
        now = trio.current_time()
        return SupervisorStatus(
            id=self.spec.id,
            state=self._state,
            strategy=self.spec.strategy.value,
            recent_restarts=self._window.recent(now),
            intensity=self.spec.intensity,
            period=self.spec.period,
            children=tuple(c.status(now) for c in self._children),
        )

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        if self._ran:
            raise RuntimeError(f"supervisor {self.spec.id!r} has already run")
        self._ran = True
        started_at = trio.current_time()
        self._warn_if_intensity_unreachable()
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await self._start_in_order(self._children)
                if self._stop_reason is None:
                    self._state = "running"
                    self._emit("supervisor.started", "info", children=[c.spec.id for c in self._children])
                task_status.started(self)
                await self._serve()
                await self._stop_everything()
        finally:
            # After a hard stop or an error from outside, children whose tasks
            # ended were never walked through _stop_one: say what is true.
            for child in self._children:
                if not child.alive and child.state in ACTIVE:
                    self._set_state(child, ChildState.EXITED)
            self._refuse_pending_commands()
            self._state = "failed" if self._failure is not None else "stopped"
            self._emit(
                "supervisor.stopped",
                "error" if self._failure is not None else "info",
                reason=self._stop_reason or "cancelled",
                duration_s=round(trio.current_time() - started_at, 3),
            )
            self._finished.set()
        if self._failure is not None:
            raise self._failure

    # ---- starting ---------------------------------------------------------

    async def _start_in_order(self, children: Sequence[ChildRecord]) -> None:
        """Start children one by one, each after the previous one settled."""
        with trio.CancelScope() as self._interrupt:
            for child in children:
                if self._stop_reason is not None:
                    break
                self._spawn(child)
                await child.settled.wait()
        self._interrupt = None

    def _spawn(self, child: ChildRecord) -> None:
        assert self._nursery is not None
        child.incarnation += 1
        incarnation = child.incarnation
        child.stop_requested = False
        child.ready_at = None
        child.restart_at = None
        child.done = trio.Event()
        child.settled = trio.Event()
        child.scope = trio.CancelScope()
        if child.spec.ready_timeout is not None:
            child.scope.deadline = trio.current_time() + child.spec.ready_timeout
        child.ctx = ChildContext(
            child_id=child.spec.id,
            supervisor_id=self.spec.id,
            incarnation=incarnation,
            hooks=self._hooks,
            on_started=lambda: self._on_ready(child, incarnation),
            on_status=lambda text, detail: self._on_status(child, incarnation, text, detail),
        )
        self._set_state(child, ChildState.STARTING)
        self._nursery.start_soon(
            self._run_incarnation, child, child.ctx, child.scope, name=f"{self.spec.id}/{child.spec.id}#{incarnation}"
        )

    def _on_ready(self, child: ChildRecord, incarnation: int) -> None:
        if child.incarnation != incarnation or child.done.is_set():
            return
        now = trio.current_time()
        child.ready_at = now
        child.scope.deadline = math.inf
        if child.state is ChildState.STARTING:
            self._set_state(child, ChildState.RUNNING)
        child.settled.set()
        self._emit("child.started", "info", child, incarnation=incarnation)

    def _on_status(self, child: ChildRecord, incarnation: int, text: str, detail: Mapping[str, Any] | None) -> None:
        if child.incarnation == incarnation:
            child.status_text = text
            child.status_detail = detail

    async def _run_incarnation(self, child: ChildRecord, ctx: ChildContext, scope: trio.CancelScope) -> None:
        outcome = Outcome.NORMAL
        error: Exception | None = None
        try:
            with scope:
                await child.spec.target(ctx)
            if scope.cancelled_caught:
                if not child.stop_requested and not ctx.ready:
                    # Only ready_timeout cancels without a stop request.
                    timeout = child.spec.ready_timeout or 0.0
                    outcome, error = Outcome.ERROR, StartTimeout(child.spec.id, timeout)
                else:
                    outcome = Outcome.CANCELLED
        except Exception as exc:
            outcome, error = Outcome.ERROR, exc
        except BaseException:
            self._record_exit(child, Outcome.CANCELLED, None)
            raise
        finally:
            ctx._close_held()
            child.done.set()
            child.settled.set()
        self._record_exit(child, outcome, error)
        self._send.send_nowait(Exited(child, ctx.incarnation, outcome, error))

    def _record_exit(self, child: ChildRecord, outcome: Outcome, error: Exception | None) -> None:
        now = trio.current_time()
        uptime = None if child.ready_at is None else now - child.ready_at
        child.last_exit = ExitInfo(
            outcome=outcome,
            error_type=None if error is None else type(error).__name__,
            error=None if error is None else describe_error(error),
            error_detail=error_detail(error),
            at_wall=_wall_now(),
            uptime_s=uptime,
        )
        unexpected = outcome is Outcome.ERROR and not child.stop_requested
        self._emit("child.exited", "warning" if unexpected else "info", child, **child.last_exit.to_dict())

    # ---- the coordinator loop ----------------------------------------------

    async def _serve(self) -> None:
        """Handle exits and restart deadlines until a stop is decided."""
        while self._stop_reason is None:
            due = min(
                (
                    c.restart_at
                    for c in self._children
                    if c.state is ChildState.BACKING_OFF and c.restart_at is not None
                ),
                default=math.inf,
            )
            message = None
            with trio.move_on_at(due):
                message = await self._recv.receive()
            # Handled outside the deadline's scope: stopping a rest_for_one
            # group can take a grace period, and a restart deadline passing
            # meanwhile must not cut that stop short.
            if message is None:
                await self._restart_due()
            elif isinstance(message, Exited):
                await self._on_exit(message)
            elif isinstance(message, ChildCommand):
                await self._on_command(message)
        self._refuse_pending_commands()

    def _refuse_pending_commands(self) -> None:
        """Commands that came too late get their answer: nothing was done.
        (Exits still queued need no decision any more: everything stops.)"""
        while True:
            try:
                late = self._recv.receive_nowait()
            except trio.WouldBlock:
                return
            if isinstance(late, ChildCommand):
                late.result.append(False)
                late.done.set()

    async def _on_command(self, command: ChildCommand) -> None:
        child = next(c for c in self._children if c.spec.id == command.child_id)
        try:
            if command.start:
                if child.state in (ChildState.STOPPED, ChildState.EXITED, ChildState.FAILED):
                    child.failures = 0  # started by hand: a fresh budget
                    self._emit("child.start_requested", "info", child)
                    self._spawn(child)
            elif child.state is ChildState.BACKING_OFF:
                child.restart_at = None
                self._set_state(child, ChildState.STOPPED)
                self._emit("child.stopped_on_request", "info", child)
            elif child.state in ACTIVE:
                await self._stop_one(child, final=ChildState.STOPPED)
                self._emit("child.stopped_on_request", "info", child)
            down = child.state in (ChildState.STOPPED, ChildState.EXITED, ChildState.FAILED)
            command.result.append(not down if command.start else down)
        finally:
            if not command.result:
                command.result.append(False)
            command.done.set()

    async def _on_exit(self, message: Exited) -> None:
        child = message.child
        if message.incarnation != child.incarnation or child.stop_requested:
            return  # a stop we asked for; the stopping code has handled it
        now = trio.current_time()
        backoff = child.spec.backoff
        ready_for = None if child.ready_at is None else now - child.ready_at
        decision = decide(
            child.spec.restart,
            message.outcome,
            backoff=backoff,
            failures=failures_before_exit(backoff, child.failures, ready_for),
            error=message.error,
            stopping=self._stop_reason is not None,
        )
        child.failures = decision.failures
        if decision.action is Action.RESTART:
            if self._window.record(now):
                self._set_state(child, ChildState.EXITED)
                recent = self._window.recent(now)
                self._emit("supervisor.intensity_exceeded", "error", child, restarts=recent, period=self.spec.period)
                self._failure = IntensityExceeded(self.spec.id, recent, self.spec.period)
                self._stop_reason = "intensity"
                return
            delay = backoff_delay(backoff, decision.failures - 1, self._rng.random())
            child.restarts += 1
            child.last_delay = delay
            self._set_state(child, ChildState.BACKING_OFF)
            child.restart_at = now + delay
            critical = backoff.max_failures is not None and decision.failures >= backoff.max_failures - 1
            self._emit(
                "child.restart_scheduled",
                "error" if critical else "warning",
                child,
                attempt=child.restarts,
                delay_s=round(delay, 3),
                consecutive_failures=decision.failures,
                reason=decision.reason,
            )
            await self._stop_dependents(child)
        elif decision.action is Action.EXIT:
            self._set_state(child, ChildState.EXITED)
            self._check_auto_shutdown(child)
        elif decision.action is Action.GIVE_UP:
            self._set_state(child, ChildState.FAILED)
            self._emit("child.gave_up", "error", child, reason=decision.reason, consecutive_failures=decision.failures)
            self._check_auto_shutdown(child, reason=decision.reason)

    async def _stop_dependents(self, child: ChildRecord) -> None:
        """rest_for_one / one_for_all: stop the siblings that restart with it."""
        if self.spec.strategy is Strategy.ONE_FOR_ONE:
            return
        if self.spec.strategy is Strategy.REST_FOR_ONE:
            group = [c for c in self._children if c.index > child.index]
        else:
            group = [c for c in self._children if c is not child]
        group = [c for c in group if c.state not in (ChildState.EXITED, ChildState.FAILED, ChildState.STOPPED)]
        # Not interruptible by a graceful stop(): that is queued and handled
        # right after, and stopping these siblings is what it would do anyway.
        # A hard stop still cuts the graces short (_hard_stop cancels them).
        for sibling in reversed(group):
            await self._stop_one(sibling)
        assert child.restart_at is not None
        for sibling in group:
            if sibling.spec.restart is Restart.TEMPORARY:
                self._set_state(sibling, ChildState.EXITED)  # never restarted (OTP)
            else:
                # A sibling's restart is not the sibling's failure: no counter
                # moves, it simply starts again with the child that failed.
                if sibling.state is not ChildState.BACKING_OFF:
                    self._set_state(sibling, ChildState.BACKING_OFF)
                sibling.restart_at = max(sibling.restart_at or 0.0, child.restart_at)

    async def _restart_due(self) -> None:
        now = trio.current_time()
        due = [
            c
            for c in self._children
            if c.state is ChildState.BACKING_OFF and c.restart_at is not None and c.restart_at <= now
        ]
        if self.spec.strategy is Strategy.ONE_FOR_ONE:
            for child in due:  # no ordering to respect: don't wait for readiness
                self._spawn(child)
        else:
            await self._start_in_order(due)

    def _check_auto_shutdown(self, child: ChildRecord, reason: str | None = None) -> None:
        if not child.spec.significant or self._stop_reason is not None:
            return
        significant = [c for c in self._children if c.spec.significant]
        if self.spec.auto_shutdown is AutoShutdown.ALL_SIGNIFICANT and any(
            c.state not in (ChildState.EXITED, ChildState.FAILED) for c in significant
        ):
            return
        failed = [c for c in significant if c.state is ChildState.FAILED]
        if failed:
            culprit = failed[0]
            why = reason if culprit is child and reason else "gave up"
            self._failure = SignificantChildFailed(self.spec.id, culprit.spec.id, why)
        self._stop_reason = "auto_shutdown"

    # ---- stopping ---------------------------------------------------------

    async def _stop_everything(self) -> None:
        self._state = "stopping"
        self._emit("supervisor.stopping", "info", reason=self._stop_reason)
        for child in self._children:  # pending restarts are simply dropped
            if child.state is ChildState.BACKING_OFF:
                child.restart_at = None
                self._set_state(child, ChildState.EXITED)
        timeout = self.spec.stop_timeout
        with trio.move_on_after(math.inf if timeout is None else timeout):
            for child in reversed(self._children):
                await self._stop_one(child)
        if any(c.alive for c in self._children):
            self._hard_stop()
            for child in reversed(self._children):
                await self._stop_one(child)

    async def _stop_one(self, child: ChildRecord, final: ChildState = ChildState.EXITED) -> None:
        """Ask, wait up to the child's grace, cancel, then wait for it to end."""
        if not child.alive:
            # It ended on its own and its exit is still queued (or it never
            # spawned: a stop came during start-up). Being stopped is what
            # happens to it now, so its queued exit decides nothing.
            child.stop_requested = True
            if child.state in ACTIVE:
                self._set_state(child, final)
            return
        if not child.stop_requested:
            child.stop_requested = True
            self._set_state(child, ChildState.STOPPING)
            assert child.ctx is not None
            child.ctx._request_stop()
        grace = child.spec.shutdown
        if self._hard or grace == 0:
            child.scope.cancel(reason="supervision: stop")
        else:
            with trio.move_on_after(math.inf if grace is None else grace) as self._grace:
                await child.done.wait()
            self._grace = None
            if child.alive:
                if not self._hard:
                    self._emit("child.stop_timeout", "error", child, grace_s=grace)
                child.scope.cancel(reason="supervision: shutdown grace over")
        await child.done.wait()
        self._set_state(child, final)

    def _hard_stop(self) -> None:
        self._hard = True
        for child in self._children:
            if child.alive:
                child.stop_requested = True
                # A nested supervisor runs inside this scope, so cancelling
                # it cancels the whole subtree at once.
                child.scope.cancel(reason="supervision: stopped at once")
        for scope in (self._grace, self._interrupt):
            if scope is not None:
                scope.cancel()

    # ---- status and events ------------------------------------------------

    def _set_state(self, child: ChildRecord, state: ChildState) -> None:
        if state is not child.state:
            check_transition(child.state, state)
            child.state = state

    def _warn_if_intensity_unreachable(self) -> None:
        """Say once which children no intensity window can ever catch alone."""
        unreachable = [
            spec.id
            for spec in self.spec.children
            if spec.restart is not Restart.TEMPORARY
            and not single_child_can_exceed(spec.backoff, self.spec.intensity, self.spec.period)
        ]
        if unreachable:
            self._emit(
                "supervisor.intensity_unreachable",
                "info",
                children=unreachable,
                detail=(
                    f"with their backoff, none of these alone can make {self.spec.intensity + 1} restarts in "
                    f"{self.spec.period:g}s; a child that keeps failing is limited by its own max_failures"
                ),
            )

    def _emit(self, name: str, level: str, child: ChildRecord | None = None, **fields: Any) -> None:
        event = Event(
            name=name,
            supervisor=self.spec.id,
            level=level,
            child=None if child is None else child.spec.id,
            incarnation=fields.pop("incarnation", None if child is None else child.incarnation),
            fields=fields,
        )
        for hook in self._hooks:
            try:
                hook(event)
            except Exception:  # a broken hook must not take the tree down
                traceback.print_exc(file=sys.stderr)


def _wall_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
