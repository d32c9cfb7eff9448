"""What the AI answered lately, so it does not answer the same thing twice.

On a busy stream the same question comes back every minute from someone
new ("do you like cats?" four times in three minutes): the viewer who asks
again has not seen the answer, but the rest of the audience has, and an AI
that repeats itself sounds like a machine. The router remembers each
answered text (its comparison key and its token set, see `similar.py`) for
`window` seconds: a new chat line that says the same thing is
`filtered:answered`, and one already waiting when the answer is given is
`dropped:answered`.

Paid messages are always answered (someone paid for a reply) but are
remembered like any other answer. Times are the router's clock (when the
turn started), not the platform's: what counts is when the audience heard
the answer.
"""

from __future__ import annotations

from collections import deque

from .similar import SimilarIndex


class AnsweredTexts:
    """Answered texts within `window` seconds, at most `capacity` of them."""

    def __init__(self, window: float, threshold: float, capacity: int = 512) -> None:
        self.window = window
        self.threshold = threshold
        self._capacity = capacity
        self._recent: deque[tuple[float, str, frozenset[str]]] = deque()  # (answered at, key, tokens)
        self._keys: dict[str, int] = {}  # key -> how many entries of _recent have it
        # Each token set once, indexed for near matches; with the count of
        # entries of _recent that have it (the same text answered again).
        self._alike: SimilarIndex[frozenset[str]] = SimilarIndex(threshold)
        self._sets: dict[frozenset[str], int] = {}

    def note(self, key: str, tokens: frozenset[str], now: float) -> None:
        if not self.window or (not key and not tokens):
            return
        self._recent.append((now, key, tokens))
        self._keys[key] = self._keys.get(key, 0) + 1
        if tokens not in self._sets:
            self._alike.add(tokens, tokens)
        self._sets[tokens] = self._sets.get(tokens, 0) + 1
        self._forget(now)

    def matches(self, key: str, tokens: frozenset[str], now: float) -> bool:
        """Whether this text was answered less than `window` seconds ago."""
        recent = self._recent
        if not recent:
            return False
        if len(recent) > self._capacity or not now - recent[0][0] < self.window:  # _forget's own test, first
            self._forget(now)
        if key and key in self._keys:
            return True
        return self._alike.find(tokens) is not None

    def _forget(self, now: float) -> None:
        recent, keys, sets = self._recent, self._keys, self._sets
        while recent and (len(recent) > self._capacity or not now - recent[0][0] < self.window):
            _, key, tokens = recent.popleft()
            left = keys[key] - 1
            if left:
                keys[key] = left
            else:
                del keys[key]
            left = sets[tokens] - 1
            if left:
                sets[tokens] = left
            else:
                del sets[tokens]
                self._alike.discard(tokens)

    def __len__(self) -> int:
        return len(self._recent)
