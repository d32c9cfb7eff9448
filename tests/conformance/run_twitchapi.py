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
import re
import sys
import time
from pathlib import Path
from typing import Any

import _runner  # this folder: on sys.path as the script's own

HERE = Path(__file__).resolve().parent
FAKE = HERE.parent / "fakes" / "twitch.py"
CLIENT = HERE / "twitchapi_client.py"
READY = re.compile(r"^fake Twitch: ")
FIELDS = ("auth_url", "helix_url", "ws_url", "client_id", "user_id", "login", "access_token", "refresh_token")


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
    fields: dict[str, str] = {}

    def client(line: str) -> list[str] | None:
        fields.update(part.split("=", 1) for part in line.split() if "=" in part)
        if fields.get("access_token_expired") != "true":
            print("conformance: the fake's access token is not expired: no refresh would be forced", file=sys.stderr)
            return None
        command = [args.python, str(CLIENT)]
        for name in FIELDS:
            if name != "user_id":
                command += ["--" + name.replace("_", "-"), fields[name]]
        return command

    outcome = _runner.run(command, READY, client, "twitchapi_client.py")
    if outcome is None:
        return 1
    result, fake_lines, fake_code = outcome
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
        ("the fake exited cleanly with its stats", fake_code == 0 and bool(stats)),
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
