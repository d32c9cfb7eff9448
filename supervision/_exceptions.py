"""Errors raised by the supervision package.

The tree::

    Exception
     └── SupervisionError          anything this package raises on purpose
          ├── InvalidSpec          a spec that cannot work (checked at construction)
          ├── IntensityExceeded    more than `intensity` restarts within `period`
          ├── SignificantChildFailed
          │                        auto-shutdown was triggered by a significant
          │                        child that gave up (as opposed to finishing)
          └── StartTimeout         a child did not call ctx.started() within its
                                   ready_timeout (reported as that child's error)

All of them are ordinary `Exception`s on purpose: a parent supervisor
classifies them like any other child failure, so a nested supervisor that gave
up is visible in its parent's status instead of tearing the tree down.
"""

from __future__ import annotations


class SupervisionError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidSpec(SupervisionError, ValueError):
    """A child or supervisor spec with contradictory or out-of-range settings."""


class IntensityExceeded(SupervisionError):
    """More than `intensity` restarts happened within `period` seconds."""

    def __init__(self, supervisor: str, restarts: int, period: float) -> None:
        super().__init__(
            f"supervisor {supervisor!r}: {restarts} restarts within {period:g}s "
            "exceeded its restart intensity; stopped its children"
        )
        self.supervisor = supervisor
        self.restarts = restarts
        self.period = period


class SignificantChildFailed(SupervisionError):
    """A significant child gave up, and that shut the supervisor down."""

    def __init__(self, supervisor: str, child: str, reason: str) -> None:
        super().__init__(f"supervisor {supervisor!r}: significant child {child!r} failed: {reason}")
        self.supervisor = supervisor
        self.child = child
        self.reason = reason


class StartTimeout(SupervisionError):
    """A child did not report readiness within its `ready_timeout`."""

    def __init__(self, child: str, timeout: float) -> None:
        super().__init__(f"child {child!r} did not call ctx.started() within {timeout:g}s")
        self.child = child
        self.timeout = timeout
