"""Specs: what to supervise and how. Frozen, validated at construction.

Everything here is plain data. Nothing imports Trio, so the policy code and its
property tests can use these classes without an event loop.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

import attrs

from ._exceptions import InvalidSpec

if TYPE_CHECKING:
    from ._context import ChildContext


class Restart(enum.Enum):
    """OTP restart types. "Normal exit" means the target returned."""

    PERMANENT = "permanent"  # always restarted
    TRANSIENT = "transient"  # restarted only after an error
    TEMPORARY = "temporary"  # never restarted


class Strategy(enum.Enum):
    """Which children are restarted when one of them is."""

    ONE_FOR_ONE = "one_for_one"  # only the child that exited
    REST_FOR_ONE = "rest_for_one"  # it and the children started after it
    ONE_FOR_ALL = "one_for_all"  # every child


class AutoShutdown(enum.Enum):
    """When the exit of `significant` children stops the supervisor (OTP 24)."""

    NEVER = "never"
    ANY_SIGNIFICANT = "any_significant"
    ALL_SIGNIFICANT = "all_significant"


def always_restart(exc: BaseException) -> bool:
    """Default `Backoff.restart_on`: every error is worth another try."""
    return True


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise InvalidSpec(f"{attribute.name} must be a positive number, got {value!r}")


@attrs.frozen(kw_only=True)
class Backoff:
    """The restart delay and the per-child failure budget.

    ``delay = min(max_delay, min_delay * multiplier**n) * (1 - jitter * u)``
    where ``n`` counts consecutive failures before this one and ``u`` is
    uniform in [0, 1). Jitter only ever shortens the delay, so the result
    never exceeds ``max_delay`` (Akka's formula can overshoot its cap).
    """

    min_delay: float = attrs.field(default=1.0, validator=_positive)
    max_delay: float = attrs.field(default=60.0, validator=_positive)
    multiplier: float = 2.0
    jitter: float = 0.2
    reset_after: float = attrs.field(default=60.0, validator=_positive)
    # Consecutive failures after which the child is left `failed`; None: never.
    max_failures: int | None = None
    # False for errors that retrying cannot fix (bad credentials, bad config).
    restart_on: Callable[[BaseException], bool] = always_restart

    def __attrs_post_init__(self) -> None:
        if self.max_delay < self.min_delay:
            raise InvalidSpec(f"max_delay ({self.max_delay}) must be >= min_delay ({self.min_delay})")
        if not (self.multiplier >= 1 and math.isfinite(self.multiplier)):
            raise InvalidSpec(f"multiplier must be >= 1, got {self.multiplier!r}")
        if not 0 <= self.jitter <= 1:
            raise InvalidSpec(f"jitter must be within [0, 1], got {self.jitter!r}")
        if self.max_failures is not None and self.max_failures < 1:
            raise InvalidSpec(f"max_failures must be >= 1 or None, got {self.max_failures!r}")


@attrs.frozen(kw_only=True)
class ChildSpec:
    """One supervised child. `target` runs one incarnation."""

    id: str
    target: Callable[[ChildContext], Awaitable[None]] = attrs.field(repr=False)
    restart: Restart = Restart.PERMANENT
    backoff: Backoff = Backoff()
    # Seconds between the stop request and the cancel. 0 cancels at once;
    # None waits for ever (right for nested supervisors, as in OTP).
    shutdown: float | None = 5.0
    # Seconds allowed until ctx.started(); overrunning is a start error.
    ready_timeout: float | None = None
    significant: bool = False
    kind: str = "worker"  # or "supervisor": only changes what the status shows

    def __attrs_post_init__(self) -> None:
        if not self.id:
            raise InvalidSpec("a child needs a non-empty id")
        if self.significant and self.restart is Restart.PERMANENT:
            raise InvalidSpec(f"child {self.id!r}: a permanent child cannot be significant (OTP)")
        if self.shutdown is not None and self.shutdown < 0:
            raise InvalidSpec(f"child {self.id!r}: shutdown must be >= 0 or None")
        if self.ready_timeout is not None and self.ready_timeout <= 0:
            raise InvalidSpec(f"child {self.id!r}: ready_timeout must be > 0 or None")


def _child_tuple(children: Iterable[ChildSpec]) -> tuple[ChildSpec, ...]:
    return tuple(children)


@attrs.frozen(kw_only=True)
class SupervisorSpec:
    """A supervisor: children in start order (stop order is the reverse)."""

    id: str
    children: tuple[ChildSpec, ...] = attrs.field(converter=_child_tuple)
    strategy: Strategy = Strategy.ONE_FOR_ONE
    # OTP restart intensity: more than `intensity` restarts within `period`
    # seconds, over all children, stops the supervisor.
    intensity: int = 5
    period: float = attrs.field(default=60.0, validator=_positive)
    auto_shutdown: AutoShutdown = AutoShutdown.NEVER
    # Overall deadline for a graceful stop; then everything is cancelled.
    stop_timeout: float | None = None

    def __attrs_post_init__(self) -> None:
        ids = [c.id for c in self.children]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise InvalidSpec(f"supervisor {self.id!r}: duplicate child ids {duplicates}")
        if self.intensity < 0:
            raise InvalidSpec(f"supervisor {self.id!r}: intensity must be >= 0")
        if self.auto_shutdown is AutoShutdown.NEVER and any(c.significant for c in self.children):
            raise InvalidSpec(f"supervisor {self.id!r}: significant children need an auto_shutdown other than never")

    def child(self, child_id: str) -> ChildSpec:
        for c in self.children:
            if c.id == child_id:
                return c
        raise KeyError(child_id)
