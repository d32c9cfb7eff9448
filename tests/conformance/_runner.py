"""What both conformance runs do around their checks: start a fake as a
subprocess, wait for the line that says it is ready, run a real client under
another interpreter with a time limit, stop the fake (SIGINT: it prints its
stats and exits), and hand back everything both printed.

The fake's output is read by a thread into a queue, so the wait for its
first line can time out; everything it printed is echoed as `fake: ...`.
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, NamedTuple

START_TIMEOUT = 20.0
CLIENT_TIMEOUT = 60.0


class Outcome(NamedTuple):
    result: subprocess.CompletedProcess[str]  # the client's exit code and output
    fake_lines: list[str]  # everything the fake printed, its first line included
    fake_code: int | None  # how the fake exited


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _stop(fake: subprocess.Popen[str]) -> None:
    if fake.poll() is None:
        fake.send_signal(signal.SIGINT)
        try:
            fake.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fake.kill()
            fake.wait()


def run(
    fake_command: list[str], ready: re.Pattern[str], client_command: Callable[[str], list[str] | None], name: str
) -> Outcome | None:
    """The fake, then the client built from the fake's ready line (None from
    `client_command`: do not run it, that line says the fake is unfit).
    None when anything failed before the client could finish; said on stderr."""
    fake = subprocess.Popen(fake_command, stdout=subprocess.PIPE, text=True, encoding="utf-8")
    assert fake.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    pump = threading.Thread(target=_pump, args=(fake.stdout, lines), daemon=True)
    pump.start()
    fake_lines: list[str] = []
    result = None
    try:
        client = None
        while client is None:
            try:
                line = lines.get(timeout=START_TIMEOUT)
            except queue.Empty:
                print(f"conformance: the fake did not start within {START_TIMEOUT:g} s", file=sys.stderr)
                return None
            if line is None:
                print(f"conformance: the fake exited early ({fake.wait()})", file=sys.stderr)
                return None
            fake_lines.append(line)
            print(f"fake: {line}")
            if ready.match(line):
                client = client_command(line)
                if client is None:
                    return None
        try:
            result = subprocess.run(client, capture_output=True, text=True, encoding="utf-8", timeout=CLIENT_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            print(f"conformance: {name} did not finish within {CLIENT_TIMEOUT:g} s", file=sys.stderr)
            for partial in (exc.stdout, exc.stderr):
                if partial:
                    print(partial if isinstance(partial, str) else partial.decode(errors="replace"), file=sys.stderr)
            return None
    finally:
        _stop(fake)
        pump.join(timeout=5)
        while True:
            try:
                line = lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                fake_lines.append(line)
                print(f"fake: {line}")
    if result.stderr.strip():
        print(result.stderr.rstrip(), file=sys.stderr)
    return Outcome(result, fake_lines, fake.returncode)
