"""Chat-to-voice latency: every answered message's timeline, and the
per-platform figures of /status agreeing with the archive's."""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st
from test_service import demo_config, run_service

from actors.chat import Author, ChatEvent, Kind, Platform
from actors.timeline import percentile, summarise, timeline

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import latency as latency_bench  # the bench is a script, not a package


@given(st.lists(st.floats(-100, 1000, allow_nan=False), min_size=1, max_size=60), st.sampled_from([0.5, 0.9, 1.0]))
def test_percentile_is_the_nearest_rank(values, share):
    """The smallest value with at least `share` of the values at or below it."""
    got = percentile(values, share)
    assert got in values
    assert sum(v <= got for v in values) >= share * len(values)
    assert all(sum(w <= v for w in values) < share * len(values) for v in values if v < got)
    assert percentile([], share) is None


def test_a_timeline_is_in_wall_clock_and_its_wait_runs_from_posting_to_the_start():
    async def main():
        await trio.sleep(100)
        posted = datetime.now(UTC) - timedelta(seconds=12)
        received = trio.current_time() - 10
        author = Author("a", "민수")
        event = ChatEvent(Platform.CHZZK, "c1", Kind.CHAT, author, "hi", None, posted, received_at=received)
        now = trio.current_time()
        return posted, timeline(event, chosen_at=now - 3, started_at=now - 2, finished_at=now)

    posted, times = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    line = times["timeline"]
    moments = [datetime.fromisoformat(line[k]) for k in ("posted", "received", "chosen", "started", "finished")]
    assert moments == sorted(moments)
    assert times["wait_s"] == pytest.approx(10.0, abs=0.05)  # posted 12 s ago, started 2 s ago
    assert moments[0] == posted.replace(microsecond=posted.microsecond // 1000 * 1000)


def test_the_status_figures_agree_with_the_archive(tmp_path):
    code, lines, service = run_service(demo_config(tmp_path, archive="archive.jsonl"))
    assert code == 0
    ended = [line for line in lines if line["event"] == "session.turn_ended"]
    assert ended
    for line in ended:
        assert set(line["timeline"]) == {"posted", "received", "chosen", "started", "finished"}
        assert isinstance(line["wait_s"], float)
    from_archive = summarise(latency_bench.waits(tmp_path / "archive.jsonl", None))
    status = service.waits.summary()
    assert status["platforms"] == from_archive
    answered = service.ledger.dispatched
    assert sum(f["n"] for f in from_archive.values()) == answered  # every answered message, askers too
    for figures in from_archive.values():
        assert figures["p50_s"] <= figures["p90_s"] and not math.isnan(figures["p90_s"])


def test_a_turn_put_back_is_timed_when_it_is_answered_again():
    from actors.timeline import Waits

    async def main():
        await trio.sleep(100)
        event = ChatEvent(
            Platform.YOUTUBE,
            "y1",
            Kind.DONATION,
            Author("a", "민수"),
            "hi",
            None,
            datetime.now(UTC),
            received_at=trio.current_time(),
        )
        now = trio.current_time()
        return event, timeline(event, chosen_at=now, started_at=now + 1, finished_at=now + 2)

    event, times = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    waits = Waits()
    waits.add([event], {**times, "put_back": True})  # cut off: heard half of an answer
    assert waits.summary()["platforms"] == {}
    waits.add([event], times)  # answered again, in full
    assert waits.summary()["platforms"]["youtube"]["n"] == 1
