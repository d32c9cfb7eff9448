"""Exception groups, flattened: a nursery wraps a task's error, and the
supervisor, the retry loop and the status all want the error itself."""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound=BaseException)


def leaves(group: BaseExceptionGroup[E]) -> list[E]:
    """Every exception in `group`, nested groups opened, in order."""
    out: list[E] = []
    for exc in group.exceptions:
        out += leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return out
