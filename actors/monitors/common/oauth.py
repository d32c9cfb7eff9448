"""The `state` of an OAuth authorisation-code flow: the callback's CSRF guard.

The consent page sends the browser back to our callback with a code and the
`state` we gave it. Only a state we issued moments ago is accepted, and only
once, so a page elsewhere cannot plant its own code (and so its own account)
in the service. A few tabs may be open at once; more is someone hammering the
start page, so the oldest are forgotten.
"""

from __future__ import annotations

import hmac
import secrets

STATE_TTL = 600.0  # seconds an authorisation attempt may take
MAX_PENDING_STATES = 16


class PendingStates:
    """The states issued and not yet used; times are the caller's clock (trio's)."""

    def __init__(self, ttl: float = STATE_TTL, most: int = MAX_PENDING_STATES) -> None:
        self._ttl = ttl
        self._most = most
        self._deadlines: dict[str, float] = {}  # state -> deadline, oldest first

    def issue(self, now: float) -> str:
        self._deadlines = {s: t for s, t in self._deadlines.items() if t > now}
        while len(self._deadlines) >= self._most:
            del self._deadlines[next(iter(self._deadlines))]  # the oldest
        state = secrets.token_urlsafe(24)
        self._deadlines[state] = now + self._ttl
        return state

    def take(self, state: str, now: float) -> bool:
        """True once for a state we issued that has not expired (compared in
        constant time: the state is a secret until it is used)."""
        for known, deadline in list(self._deadlines.items()):
            if hmac.compare_digest(known.encode(), state.encode()):
                del self._deadlines[known]
                return deadline > now
        return False
