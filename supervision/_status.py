"""What a supervisor tells the world: frozen snapshots and events.

Snapshots are modelled on OTP's which_children/count_children plus systemd's
unit state and `STATUS=` text. Events are handed to hooks (plain callables),
so logging stays the application's business: this package prints nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._policy import ChildState, Outcome


@attrs.frozen
class ExitInfo:
    """How the last incarnation of a child ended."""

    outcome: Outcome
    error_type: str | None
    error: str | None
    at_wall: str  # ISO 8601 UTC
    uptime_s: float | None  # time since ctx.started(); None if never ready
    # The error for programs, when it carries one (`error_detail`).
    error_detail: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "error_type": self.error_type,
            "error": self.error,
            "error_detail": self.error_detail,
            "at_wall": self.at_wall,
            "uptime_s": _round(self.uptime_s),
        }


@attrs.frozen
class ChildStatus:
    id: str
    kind: str
    restart: str
    significant: bool
    state: ChildState
    incarnation: int  # number of starts so far
    restarts: int  # restarts decided by the supervisor
    consecutive_failures: int  # the backoff exponent n
    uptime_s: float | None  # since ready, while running
    last_exit: ExitInfo | None
    next_restart_in_s: float | None  # while backing off
    last_delay_s: float | None
    status_text: str  # what the child said about itself (ctx.set_status)
    children: SupervisorStatus | None = None  # for a nested supervisor
    status_detail: Mapping[str, Any] | None = None  # the same, for programs (ctx.set_status's detail)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "restart": self.restart,
            "significant": self.significant,
            "state": self.state.value,
            "incarnation": self.incarnation,
            "restarts": self.restarts,
            "consecutive_failures": self.consecutive_failures,
            "uptime_s": _round(self.uptime_s),
            "last_exit": self.last_exit.to_dict() if self.last_exit else None,
            "next_restart_in_s": _round(self.next_restart_in_s),
            "last_delay_s": _round(self.last_delay_s),
            "status_text": self.status_text,
            "status_detail": self.status_detail,
            "children": self.children.to_dict() if self.children else None,
        }


@attrs.frozen
class SupervisorStatus:
    id: str
    state: str  # starting | running | stopping | stopped | failed
    strategy: str
    recent_restarts: int
    intensity: int
    period: float
    children: tuple[ChildStatus, ...]

    def counts(self) -> dict[str, int]:
        states = [c.state for c in self.children]
        return {
            "specs": len(states),
            "active": sum(s in (ChildState.STARTING, ChildState.RUNNING, ChildState.STOPPING) for s in states),
            "backing_off": states.count(ChildState.BACKING_OFF),
            "failed": states.count(ChildState.FAILED),
        }

    def walk(self, prefix: str = "") -> list[tuple[str, ChildStatus]]:
        """Every child in the tree with its dotted path, depth first."""
        rows: list[tuple[str, ChildStatus]] = []
        for child in self.children:
            path = f"{prefix}{child.id}"
            rows.append((path, child))
            if child.children is not None:
                rows.extend(child.children.walk(path + "."))
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "strategy": self.strategy,
            "intensity": {"recent_restarts": self.recent_restarts, "intensity": self.intensity, "period": self.period},
            "counts": self.counts(),
            "children": [c.to_dict() for c in self.children],
        }


@attrs.frozen
class Event:
    """One thing that happened, e.g. name="child.restart_scheduled".

    `level` is "info", "warning" or "error"; `fields` holds the details
    (JSON-ready values only).
    """

    name: str
    supervisor: str
    level: str
    child: str | None = None
    incarnation: int | None = None
    fields: Mapping[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": f"supervision.{self.name}", "level": self.level, "supervisor": self.supervisor}
        if self.child is not None:
            out["child"] = self.child
        if self.incarnation is not None:
            out["incarnation"] = self.incarnation
        out.update(self.fields)
        return out


Hook = Callable[[Event], None]


def error_detail(error: BaseException | None) -> Mapping[str, Any] | None:
    """What an error says of itself for programs: its `detail` attribute
    when that is a mapping (an application's message key and parameters,
    say), else None. The supervisor passes it on and never reads it."""
    detail = getattr(error, "detail", None)
    return detail if isinstance(detail, Mapping) else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
