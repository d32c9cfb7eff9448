"""Chat-to-voice latency from an archive: how long viewers waited.

Reads an archive (JSON Lines, `[archive] path`) a record at a time, so an
archive of any size fits in bounded memory, and prints, per platform, how
many answered messages it holds and their wait, posted on the platform ->
the AI began the answer (`wait_s`, see actors/timeline.py): the median and
the 90th percentile, nearest-rank, the same figures the dashboard shows for
its last minutes. `--last` keeps the answers whose turn finished within
that many seconds of the archive's last one, as the dashboard does.

    python bench/latency.py archive.jsonl [--last 600]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from actors.timeline import summarise


def waits(path: Path, last: float | None) -> list[tuple[str, float]]:
    """(platform, wait_s) of every answered record, optionally only the latest."""
    samples: list[tuple[float, str, float]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
            except ValueError:
                print(f"line {number}: not JSON, skipped", file=sys.stderr)
                continue
            wait = record.get("wait_s") if isinstance(record, dict) else None
            if record.get("fate") != "dispatched" or not isinstance(wait, int | float):
                continue
            finished = ((record.get("turn") or {}).get("timeline") or {}).get("finished")
            at = datetime.fromisoformat(finished).timestamp() if finished else 0.0
            samples.append((at, str(record.get("platform")), float(wait)))
    if last is not None and samples:
        newest = max(at for at, _, _ in samples)
        samples = [s for s in samples if s[0] >= newest - last]
    return [(platform, wait) for _, platform, wait in samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("archive", type=Path)
    parser.add_argument("--last", type=float, default=None, help="seconds before the last answer to keep")
    args = parser.parse_args()
    try:
        figures = summarise(waits(args.archive, args.last))
    except OSError as exc:
        sys.exit(f"{args.archive}: cannot read it ({exc.strerror or exc})")
    for platform, f in figures.items():
        print(f"{platform}: {f['n']} answered, wait p50 {f['p50_s']} s, p90 {f['p90_s']} s")
    if not figures:
        print("no answered message with a wait in this archive")
    print(json.dumps({"bench": "latency", "archive": str(args.archive), "platforms": figures}))


if __name__ == "__main__":
    main()
