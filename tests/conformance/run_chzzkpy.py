"""Run chzzkpy 2.2.0 against the fake Chzzk server: proof that the fake speaks the protocol a real client expects.

Runs in the project's virtualenv; chzzkpy lives in another one (its exact pins must never touch ours)::

    python tests/conformance/run_chzzkpy.py --python .venv-chzzkpy/bin/python

It starts ``tests/fakes/chzzk.py --port 0 --script conformance`` (the OS picks a free port, which the
fake prints), runs ``chzzkpy_client.py`` under the given interpreter with a 60 s limit, stops the fake,
relays both outputs and exits 0 if the client succeeded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
FAKE = HERE.parent / "fakes" / "chzzk.py"
CLIENT = HERE / "chzzkpy_client.py"
CLIENT_ID = "conformance-client-id"
CLIENT_SECRET = "conformance-client-secret"
CLIENT_TIMEOUT = 60.0
START_TIMEOUT = 20.0
READY = re.compile(r"^fake Chzzk: base_url=(?P<base_url>\S+) ")


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Copy the fake's stdout into a queue, so that it can be read with a timeout."""
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _stop(fake: subprocess.Popen[str]) -> None:
    if fake.poll() is None:
        fake.send_signal(signal.SIGINT)  # the fake prints its stats and exits
        try:
            fake.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fake.kill()
            fake.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the interpreter of the virtualenv that has chzzkpy==2.2.0")
    args = parser.parse_args()

    command = [sys.executable, str(FAKE), "--port", "0", "--script", "conformance"]
    command += ["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]
    fake = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, encoding="utf-8")
    assert fake.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    pump = threading.Thread(target=_pump, args=(fake.stdout, lines), daemon=True)
    pump.start()
    try:
        base_url = None
        while base_url is None:
            try:
                line = lines.get(timeout=START_TIMEOUT)
            except queue.Empty:
                print(f"conformance: the fake did not start within {START_TIMEOUT:g} s", file=sys.stderr)
                return 1
            if line is None:
                print(f"conformance: the fake exited early ({fake.wait()})", file=sys.stderr)
                return 1
            print(f"fake: {line}")
            if match := READY.match(line):
                base_url = match["base_url"]

        client = [args.python, str(CLIENT), "--base-url", base_url]
        client += ["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]
        try:
            result = subprocess.run(client, capture_output=True, text=True, encoding="utf-8", timeout=CLIENT_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            print(f"conformance: chzzkpy_client.py did not finish within {CLIENT_TIMEOUT:g} s", file=sys.stderr)
            for partial in (exc.stdout, exc.stderr):
                if partial:
                    print(partial if isinstance(partial, str) else partial.decode(errors="replace"), file=sys.stderr)
            return 1
    finally:
        _stop(fake)
        pump.join(timeout=5)
        while True:
            try:
                line = lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                print(f"fake: {line}")

    if result.stderr.strip():
        print(result.stderr.rstrip(), file=sys.stderr)
    printed = result.stdout.strip().splitlines()
    for text in printed[:-1]:
        print(f"chzzkpy: {text}")
    last = printed[-1] if printed else ""
    print(last)
    try:
        summary = json.loads(last)
    except ValueError:
        summary = {}
    ok = result.returncode == 0 and summary.get("ok") is True and fake.returncode == 0
    if fake.returncode != 0:
        print(f"conformance: the fake exited with {fake.returncode}", file=sys.stderr)
    print("conformance: chzzkpy 2.2.0 " + ("PASSED" if ok else "FAILED"), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
