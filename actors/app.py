"""Builds the supervision tree from a Config and runs it.

    root (one_for_one, auto-shutdown when the session is done)
     ├─ session    TRANSIENT, significant: pulls one message per turn; returns
     │             once all input has ended and been spoken, which ends the run
     ├─ router     TRANSIENT: routes until the monitors' channel ends
     └─ monitors   nested supervisor (TRANSIENT)
         ├─ replay      TRANSIENT; may end the run (the demo)
         └─ youtube, chzzk, ...
                        PERMANENT, each with the monitors' backoff: one per
                        platform the config enables (monitors/registry.py)

Start order is top to bottom, so the stop order is monitors first (no new
input), then the router, then the session (finishes its turn). The channel
from the monitors to the router and the pending buffer are made here, once:
they outlive every incarnation, so a restarted actor picks up exactly where
its predecessor left off. After the tree has stopped, `Service.run` does the
final accounting itself (whatever is still in the channel or the buffer gets
`dropped:shutdown`), so it holds whichever state the actors ended in.
"""

from __future__ import annotations

import functools
import random
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs
import trio

from supervision import (
    AutoShutdown,
    Backoff,
    ChildContext,
    ChildSpec,
    ChildState,
    Restart,
    SupervisionError,
    Supervisor,
    SupervisorSpec,
    run_until_signalled,
    supervisor_child,
)

from .archive import Archive
from .chat import ChatEvent
from .config import BackoffConfig, Config, surroundings
from .control.server import ControlSurface
from .ledger import Ledger
from .monitors.common.retry import FatalMonitorError
from .monitors.registry import PLATFORMS, Runtime
from .monitors.replay import ReplayCursor, ReplaySource, run_replay
from .router.actor import Router
from .session.console import run_console_session
from .session.olv import OlvSession
from .session.steering import Skipper
from .statuslog import StatusLog
from .timeline import Waits

MonitorFactory = Callable[["Service"], Sequence[ChildSpec]]


def monitor_backoff(config: BackoffConfig) -> Backoff:
    return Backoff(
        min_delay=config.min_delay,
        max_delay=config.max_delay,
        multiplier=config.multiplier,
        jitter=config.jitter,
        reset_after=config.reset_after,
        max_failures=config.max_failures,
        restart_on=lambda exc: not isinstance(exc, FatalMonitorError),
    )


def configured_monitors(service: Service) -> list[ChildSpec]:
    """The monitors the config enables, as child specs."""
    monitors = service.config.monitors
    specs = []
    if monitors.replay.enabled:
        replay = monitors.replay
        path = service.config.base_dir / replay.path if replay.path else None
        target = functools.partial(
            run_replay,
            source=ReplaySource(path, replay.speed),
            outbox=service.chat_send,
            cursor=service.replay_cursor,
            max_retries=replay.max_retries,
            retry_interval=replay.retry_interval,
            emit=service.log.emit,
        )
        specs.append(
            ChildSpec(
                id="replay",
                target=target,
                restart=Restart.TRANSIENT,
                significant=replay.ends_run,
                backoff=monitor_backoff(monitors.backoff),
                shutdown=2.0,
            )
        )
    backoff = monitor_backoff(monitors.backoff)
    for runtime in service.platforms.values():
        specs.append(runtime.child(service.chat_send, service.log.emit, backoff))
    return specs


class Service:
    """The whole service for one run: shared state plus the root supervisor."""

    def __init__(
        self,
        config: Config,
        log: StatusLog,
        *,
        monitors: MonitorFactory = configured_monitors,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.log = log
        self.ledger = Ledger(listeners=[log.fate])
        self.archive = None
        if config.archive.path:
            self.archive = Archive(config.base_dir / config.archive.path)
            self.ledger.listeners.append(self.archive)
        self.router = Router(self.ledger, config.router.routing(), emit=log.emit)
        self.buffer = self.router.buffer
        self.chat_send, self.chat_recv = trio.open_memory_channel[ChatEvent](config.router.inbox_size)
        self.templates = config.session.templates.prompt_templates()
        # The streamer's skip, for whichever session incarnation runs.
        self.skipper = Skipper()
        # How long viewers waited for their answers, lately (/status, the dashboard).
        self.waits = Waits()
        self.format_line = self.templates.line
        self.control = (
            ControlSurface(self, config.control.settings(), emit=log.emit) if config.control.enabled else None
        )
        if self.control is not None:
            self.ledger.listeners.append(self.control.on_fate)
        self.replay_cursor = ReplayCursor()
        # Each enabled platform's lasting state (its cursor, its tokens): made
        # once per run, so its monitor's restarts lose none of it.
        around = surroundings(config)
        self.platforms: dict[str, Runtime] = {
            plugin.name: plugin.open(getattr(config.monitors, plugin.name), around, log.emit)
            for plugin in PLATFORMS
            if getattr(config.monitors, plugin.name).enabled
        }
        self.monitor_specs = list(monitors(self))
        self.supervisor = Supervisor(self._root_spec(self.monitor_specs, rng), hooks=[log.supervision_hook], rng=rng)
        self._started = 0.0

    def _root_spec(self, monitor_specs: list[ChildSpec], rng: random.Random | None) -> SupervisorSpec:
        config = self.config
        monitors = SupervisorSpec(
            id="monitors",
            children=monitor_specs,
            intensity=config.monitors.intensity,
            period=config.monitors.period,
            auto_shutdown=(
                AutoShutdown.ANY_SIGNIFICANT if any(m.significant for m in monitor_specs) else AutoShutdown.NEVER
            ),
        )
        nested = supervisor_child(monitors, restart=Restart.TRANSIENT, rng=rng)
        session = ChildSpec(
            id="session",
            target=self._session_target(),
            restart=Restart.TRANSIENT,
            significant=True,
            # The OLV session reconnects itself by the common retry rule
            # ([session.olv] max_retries, retry_interval); this backoff is
            # only the second level, once that budget is spent.
            backoff=Backoff(min_delay=1.0, max_delay=30.0),
            shutdown=config.session.turn_grace,
        )
        router = ChildSpec(
            id="router",
            target=functools.partial(self.router.run, inbox=self.chat_recv),
            restart=Restart.TRANSIENT,
            backoff=Backoff(min_delay=0.5, max_delay=10.0),
            shutdown=5.0,
        )
        children = [session, router, attrs.evolve(nested, target=self._monitors_target(nested))]
        if self.control is not None:
            # Started last, stopped first; never significant: a dashboard
            # that cannot bind its port must not stop the stream.
            children.append(
                ChildSpec(
                    id="control",
                    target=self.control.run,
                    restart=Restart.PERMANENT,
                    backoff=Backoff(min_delay=2.0, max_delay=60.0),
                    shutdown=5.0,
                )
            )
        return SupervisorSpec(
            id="root",
            children=children,
            intensity=config.service.intensity,
            period=config.service.period,
            auto_shutdown=AutoShutdown.ANY_SIGNIFICANT,
        )

    def _session_target(self) -> Callable[[ChildContext], Awaitable[None]]:
        config = self.config
        templates = self.templates
        on_turn_ended = self._on_turn_ended
        if config.session.kind == "olv":
            olv = OlvSession(
                self.buffer,
                # The session interrupts a turn itself just before this grace
                # (the child's `shutdown` below) runs out.
                config.session.olv.settings(batch=config.router.batch, stop_grace=config.session.turn_grace),
                format_turn=templates.turn,
                emit=self.log.emit,
                on_turn_ended=on_turn_ended,
                skipper=self.skipper,
                on_turn_started=self._on_turn_started,
                on_turn_progress=self._on_turn_progress,
            )
            return olv.run
        return functools.partial(
            run_console_session,
            buffer=self.buffer,
            speaking_time=config.session.speaking_time,
            batch=config.router.batch,
            emit=self.log.emit,
            format_turn=templates.turn,
            on_turn_ended=on_turn_ended,
            skipper=self.skipper,
            on_turn_started=self._on_turn_started,
        )

    def _on_turn_started(self, events: Sequence[ChatEvent], fields: dict[str, Any]) -> None:
        if self.control is not None:
            self.control.on_turn_started(list(events), fields)

    def _on_turn_progress(self, events: Sequence[ChatEvent], fields: dict[str, Any]) -> None:
        if self.control is not None:
            self.control.on_turn_progress(list(events), fields)

    def _on_turn_ended(self, events: Sequence[ChatEvent], fields: dict[str, Any]) -> None:
        self.waits.add(events, fields)
        try:
            if self.archive is not None:
                self.archive.turn_ended(events, fields)
        finally:  # a failing archive (a full disk) must not leave the overlay showing this turn
            if self.control is not None:
                self.control.on_turn_ended(list(events), fields)

    def _monitors_target(self, nested: ChildSpec) -> Callable[[ChildContext], Awaitable[None]]:
        async def run_monitors(ctx: ChildContext) -> None:
            # Close the monitors' side of the channel once they are done for
            # good, so the router sees the end of the input and the run can
            # drain and end: when they finished, were stopped, or gave up
            # (a SupervisionError is never restarted, see supervisor_child).
            # Any other error may be restarted: the channel stays open.
            done_for_good = True
            try:
                await nested.target(ctx)
            except Exception as exc:
                done_for_good = isinstance(exc, SupervisionError)
                raise
            finally:
                if done_for_good:
                    self.chat_send.close()

        return run_monitors

    def status_fields(self) -> dict[str, Any]:
        return {
            "uptime_s": round(trio.current_time() - self._started, 3),
            "summary": self.ledger.summary(),
            "counts": self.ledger.to_dict(),
            "balanced": self.ledger.balanced,
            "tree": self.supervisor.snapshot().to_dict(),
        }

    async def _tick_status(self) -> None:
        while True:
            await trio.sleep(self.config.service.status_interval)
            self.log.emit("service.status", **self.status_fields())

    def _on_signal(self, signum: int, hard: bool) -> None:
        name = signal.Signals(signum).name
        self.log.emit("service.signal", "warning", signal=name, action="stop at once" if hard else "graceful stop")

    async def run(
        self, *, caught: list[int] | None = None, task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED
    ) -> int:
        """Run until the input ends or a signal; returns the exit code.
        `caught`: signals the process took before Trio listened (replayed)."""
        self._started = trio.current_time()
        monitors = [spec.id for spec in self.monitor_specs]
        self.log.emit("service.starting", monitors=monitors, session=self.config.session.kind)
        failure: str | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._tick_status)
            try:
                await run_until_signalled(
                    self.supervisor, on_signal=self._on_signal, caught=caught, task_status=task_status
                )
            except SupervisionError as exc:
                failure = str(exc)
            nursery.cancel_scope.cancel()
        # The final accounting: every event gets its fate, whatever state the
        # router and the session were left in.
        self.router.drain(self.chat_recv)
        self.buffer.close("shutdown")
        if self.archive is not None:
            self.archive.close()
        failure = failure or self._monitors_failure()
        if failure is not None:
            self.log.emit("service.failed", "error", error=failure)
        self.log.emit("service.status", **self.status_fields())
        exit_code = 0 if failure is None else 1
        self.log.emit(
            "service.stopped",
            exit_code=exit_code,
            counts=self.ledger.to_dict(),
            balanced=self.ledger.balanced,
            summary=self.ledger.summary(),
        )
        return exit_code

    def _monitors_failure(self) -> str | None:
        """Why the monitors gave up for good, if they did (the run then ends)."""
        for child in self.supervisor.snapshot().children:
            if child.id == "monitors" and child.state is ChildState.FAILED:
                error = child.last_exit.error if child.last_exit else None
                return f"the monitors gave up: {error or 'failed'}"
        return None
