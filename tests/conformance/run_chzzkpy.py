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
import re
import sys
from pathlib import Path

import _runner  # this folder: on sys.path as the script's own

HERE = Path(__file__).resolve().parent
FAKE = HERE.parent / "fakes" / "chzzk.py"
CLIENT = HERE / "chzzkpy_client.py"
CLIENT_ID = "conformance-client-id"
CLIENT_SECRET = "conformance-client-secret"
READY = re.compile(r"^fake Chzzk: base_url=(?P<base_url>\S+) ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the interpreter of the virtualenv that has chzzkpy==2.2.0")
    args = parser.parse_args()

    command = [sys.executable, str(FAKE), "--port", "0", "--script", "conformance"]
    command += ["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]

    def client(line: str) -> list[str] | None:
        match = READY.match(line)
        assert match is not None
        return [
            args.python,
            str(CLIENT),
            "--base-url",
            match["base_url"],
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
        ]

    outcome = _runner.run(command, READY, client, "chzzkpy_client.py")
    if outcome is None:
        return 1
    result, _, fake_code = outcome
    printed = result.stdout.strip().splitlines()
    for text in printed[:-1]:
        print(f"chzzkpy: {text}")
    last = printed[-1] if printed else ""
    print(last)
    try:
        summary = json.loads(last)
    except ValueError:
        summary = {}
    ok = result.returncode == 0 and summary.get("ok") is True and fake_code == 0
    if fake_code != 0:
        print(f"conformance: the fake exited with {fake_code}", file=sys.stderr)
    print("conformance: chzzkpy 2.2.0 " + ("PASSED" if ok else "FAILED"), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
