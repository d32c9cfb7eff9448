"""Run twitchAPI 4.5.0 against the fake Twitch: proof that the fake speaks the protocol a real client expects.

Runs in the project's virtualenv; twitchAPI lives in another one (its dependencies must never touch ours)::

    python tests/conformance/run_twitchapi.py --python .venv-twitchapi/bin/python

It starts ``tests/fakes/twitch.py --port 0 --script conformance`` (the OS picks a free port; the fake prints
its URLs, client id and a user token that is already expired), runs ``twitchapi_client.py`` under the given
interpreter with a 60 s limit, stops the fake (which prints what it injected, ``sent {...}``, and its
``stats {...}``), relays both outputs and checks:

- the client succeeded, refreshed its token itself (the fake counts one refresh and no reuse), and found
  the broadcaster with ``get_users``;
- three subscriptions were created, all before the ``session_reconnect`` (no POST after it), which twitchAPI
  followed itself (one reconnect completed, the client on a new session);
- every scripted event arrived, in order, with its text. The one repeat allowed is the fake's deliberate
  redelivery of a message with the same ``metadata.message_id``: twitchAPI 4.5.0 should drop it, but its
  dedupe history is never filled (``_msg_id_history`` is read, never appended to), so it passes it on;
- the client sent no data frame (the fake counts inbound frames).

It prints PASSED or FAILED and exits 0 or 1.
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
import time
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
FAKE = HERE.parent / "fakes" / "twitch.py"
CLIENT = HERE / "twitchapi_client.py"
CLIENT_TIMEOUT = 60.0
START_TIMEOUT = 20.0
READY = re.compile(r"^fake Twitch: ")
FIELDS = ("auth_url", "helix_url", "ws_url", "client_id", "user_id", "login", "access_token", "refresh_token")


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


def check_events(sent: list[dict[str, Any]], received: list[dict[str, Any]]) -> list[str]:
    """What is wrong with the events the client received, given what the fake sent (empty: nothing)."""
    problems: list[str] = []
    expected = [entry for entry in sent if not entry.get("resend")]
    redelivered = {entry["id"] for entry in sent if entry.get("resend")}
    seen: dict[str, str] = {}  # metadata.message_id -> event id
    unique: list[dict[str, Any]] = []
    for event in received:
        if event["message_id"] in seen:
            # The same envelope twice: only the fake's redelivery, which twitchAPI's broken dedupe lets through.
            if event["id"] not in redelivered:
                problems.append(f"unexplained duplicate {event['type']} {event['id']}")
            continue
        seen[event["message_id"]] = event["id"]
        unique.append(event)
    got = [(event["type"], event["id"], event.get("text")) for event in unique]
    want = [(entry["type"], entry["id"], entry.get("text")) for entry in expected]
    if got != want:
        problems.append(f"events differ: expected {want}, received {got}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the interpreter of the virtualenv that has twitchAPI==4.5.0")
    args = parser.parse_args()
    started = time.monotonic()

    command = [sys.executable, str(FAKE), "--port", "0", "--script", "conformance"]
    fake = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, encoding="utf-8")
    assert fake.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    pump = threading.Thread(target=_pump, args=(fake.stdout, lines), daemon=True)
    pump.start()
    fake_lines: list[str] = []
    try:
        fields: dict[str, str] = {}
        while not fields:
            try:
                line = lines.get(timeout=START_TIMEOUT)
            except queue.Empty:
                print(f"conformance: the fake did not start within {START_TIMEOUT:g} s", file=sys.stderr)
                return 1
            if line is None:
                print(f"conformance: the fake exited early ({fake.wait()})", file=sys.stderr)
                return 1
            print(f"fake: {line}")
            if READY.match(line):
                fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if fields.get("access_token_expired") != "true":
            print("conformance: the fake's access token is not expired: no refresh would be forced", file=sys.stderr)
            return 1

        client = [args.python, str(CLIENT)]
        for name in FIELDS:
            if name != "user_id":
                client += ["--" + name.replace("_", "-"), fields[name]]
        try:
            result = subprocess.run(client, capture_output=True, text=True, encoding="utf-8", timeout=CLIENT_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            print(f"conformance: twitchapi_client.py did not finish within {CLIENT_TIMEOUT:g} s", file=sys.stderr)
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
                fake_lines.append(line)
                print(f"fake: {line}")

    if result.stderr.strip():
        print(result.stderr.rstrip(), file=sys.stderr)
    printed = result.stdout.strip().splitlines()
    received: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for text in printed:
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict) and "event" in document:
            received.append(document["event"])
            print(f"twitchAPI: {text}")
        elif isinstance(document, dict) and "ok" in document:
            summary = document
            print(text)
        else:
            print(f"twitchAPI: {text}")
    sent = [json.loads(line.removeprefix("sent ")) for line in fake_lines if line.startswith("sent ")]
    stats_lines = [line for line in fake_lines if line.startswith("stats ")]
    stats: dict[str, Any] = json.loads(stats_lines[-1].removeprefix("stats ")) if stats_lines else {}

    checks = [
        ("the client succeeded", result.returncode == 0 and summary.get("ok") is True),
        ("the fake exited cleanly with its stats", fake.returncode == 0 and bool(stats)),
        (
            "one refresh, by twitchAPI itself, no refresh token reused",
            stats.get("refreshes") == 1 and stats.get("refresh_reuse") == 0 and summary.get("refreshes") == 1,
        ),
        ("get_users found the broadcaster", (summary.get("user") or {}).get("id") == fields.get("user_id")),
        (
            "3 subscriptions created",
            stats.get("subscribe_posts") == 3
            and stats.get("subscribe_accepted") == 3
            and len(set(summary.get("subscriptions") or [])) == 3,
        ),
        (
            "session_reconnect followed, no POST after it",
            stats.get("reconnects_completed") == 1
            and stats.get("posts_after_reconnect") == 0
            and summary.get("reconnected") is True,
        ),
        ("no inbound frame", stats.get("inbound_frames") == 0),
        ("the fake played its script", len(sent) > 0),
    ]
    event_problems = check_events(sent, received)
    duplicates = len(received) - len({event["message_id"] for event in received})
    checks.append(("every scripted event received, in order", not event_problems))
    ok = all(passed for _, passed in checks)
    for name, passed in checks:
        print(f"conformance: {'ok  ' if passed else 'FAIL'} {name}")
    for problem in event_problems:
        print(f"conformance: {problem}")
    if duplicates:
        print(
            f"conformance: {duplicates} redelivered event(s) passed on twice (same metadata.message_id): "
            "twitchAPI 4.5.0's dedupe history is never filled"
        )
    elapsed = time.monotonic() - started
    print(
        f"conformance: twitchAPI {summary.get('twitchAPI', '?')} "
        + ("PASSED" if ok else "FAILED")
        + f" in {elapsed:.1f} s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
