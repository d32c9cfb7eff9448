"""A supervisor as the child of another supervisor."""

from __future__ import annotations

import random
from typing import Any

from ._context import ChildContext
from ._exceptions import SupervisionError
from ._runtime import Supervisor
from ._spec import Backoff, ChildSpec, Restart, SupervisorSpec


class _ReadyRelay:
    """A stand-in for trio's task_status that forwards readiness to a ctx."""

    def __init__(self, ctx: ChildContext) -> None:
        self._ctx = ctx

    def started(self, value: object = None) -> None:
        self._ctx.started()


def supervisor_child(
    spec: SupervisorSpec,
    *,
    restart: Restart = Restart.TRANSIENT,
    significant: bool = False,
    backoff: Any = None,
    rng: random.Random | None = None,
) -> ChildSpec:
    """A ChildSpec that runs a nested supervisor.

    Its readiness is the nested supervisor's readiness, a graceful stop of
    the child is a graceful stop of the nested tree, and the nested status
    shows up inside the parent's snapshot. By default a nested supervisor
    that gave up (IntensityExceeded, SignificantChildFailed) is not restarted:
    its parent marks it failed and says why.
    """

    async def run_nested(ctx: ChildContext) -> None:
        sup = Supervisor(spec, hooks=ctx.hooks, rng=rng)
        ctx.nested = sup
        if ctx.stopping.is_set():
            return
        await sup.run(task_status=_ReadyRelay(ctx))

    if backoff is None:
        backoff = Backoff(restart_on=lambda exc: not isinstance(exc, SupervisionError))
    return ChildSpec(
        id=spec.id,
        target=run_nested,
        restart=restart,
        significant=significant,
        backoff=backoff,
        shutdown=None,  # a supervisor stops its own children with their graces
        kind="supervisor",
    )
