"""The process's first signal handler, installed before anything slow.

`python -m actors` spends half a second importing Trio, httpx and the web
stack and building the actor tree before Trio's signal receiver opens. A
SIGTERM in that moment used to kill the process with no final word, and an
early Ctrl-C printed a traceback or was lost. This module imports nothing
but `signal`, so `__main__` can install it first thing:

- a first signal is noted; the service replays it as soon as it listens
  (`run_until_signalled(caught=...)`), so the run stops gracefully and ends
  with its usual `service.stopped`;
- a second one means "stop at once": KeyboardInterrupt, which `__main__`
  turns into exit 130 without a traceback.

Trio leaves a SIGINT handler that is not Python's default alone, so it
raises no KeyboardInterrupt of its own behind our back.
"""

from __future__ import annotations

import signal
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalLatch:
    def __init__(self) -> None:
        self.caught: list[int] = []  # drained by run_until_signalled
        self.count = 0  # every signal ever caught here

    def install(self) -> None:
        for signum in SIGNALS:
            signal.signal(signum, self._handler)

    def release(self) -> None:
        """Python's own handlers back: for a command that is not the service
        (the report), where Ctrl-C should simply stop it."""
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.caught.append(signum)
        self.count += 1
        if self.count > 1:
            raise KeyboardInterrupt  # the second signal: stop at once
