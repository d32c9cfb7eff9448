"""The whole service in-process on a MockClock: the tree, the log, the law.

The status log gets a wall clock driven by Trio's clock, so the `ts` of each
JSON line is virtual time and restart times can be read off the log itself.
"""

from __future__ import annotations

import io
import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing

from actors.app import Service, configured_monitors, monitor_backoff
from actors.config import Config, parse_config
from actors.statuslog import StatusLog
from supervision import ChildContext, ChildSpec, Restart

EPOCH = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parent.parent


def virtual_wall() -> datetime:
    return EPOCH + timedelta(seconds=trio.current_time())


def seconds(line: dict) -> float:
    return (datetime.fromisoformat(line["ts"]) - EPOCH).total_seconds()


def chat_file(tmp_path, n: int, gap: float = 1.0, resend: int | None = None):
    lines = []
    for i in range(n):
        sent = EPOCH + timedelta(seconds=i * gap)
        lines.append(
            json.dumps(
                {
                    "platform": "chzzk" if i % 3 else "youtube",
                    "id": f"id{i}",
                    "kind": "chat",
                    "author": {"id": f"a{i % 4}", "name": f"user{i % 4}", "roles": []},
                    "text": f"hello {i}",
                    "amount": None,
                    "sent_at": sent.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                }
            )
        )
        if resend == i:
            lines.append(lines[-1])
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def config_for(tmp_path, path, extra: str = ""):
    text = f"""
[service]
status_interval = 5.0
[router]
capacity = 3
[router.filters]
rate_per_minute = 0.0  # these tests are about the tree and the books, not spam
[session]
speaking_time = 2.0
turn_grace = 3.0
[monitors.backoff]
min_delay = 2.0
jitter = 0.0
max_failures = 3
[monitors.replay]
path = "{path.name}"
{extra}
"""
    return parse_config(text, base_dir=tmp_path, env={})


def run_service(config, monitors=configured_monitors, during=None):
    out = io.StringIO()
    service = Service(config, StatusLog(out, fmt="json", wall_clock=virtual_wall), monitors=monitors)
    result = {}

    async def main():
        async with trio.open_nursery() as nursery:
            if during is not None:
                nursery.start_soon(during)
            result["code"] = await service.run()
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return result["code"], lines, service


def assert_balanced(counts: dict) -> None:
    total = counts["dispatched"] + sum(counts["filtered"].values()) + sum(counts["dropped"].values())
    assert counts["received"] == total + counts["pending"]


def test_the_replay_ends_drains_and_the_service_exits_zero(tmp_path):
    config = config_for(tmp_path, chat_file(tmp_path, 12, gap=1.0, resend=4))
    code, lines, _ = run_service(config)
    assert code == 0
    assert all({"event", "ts", "level"} <= line.keys() for line in lines)
    last = lines[-1]
    assert last["event"] == "service.stopped"
    assert last["counts"]["received"] == 13
    assert last["counts"]["filtered"] == {"duplicate": 1}
    assert last["counts"]["pending"] == 0
    assert_balanced(last["counts"])
    # One fate line per received event, naming its id (and its reason).
    fates = [line for line in lines if line["event"].startswith("router.")]
    assert len(fates) == 13
    assert all("id" in f and ("reason" in f) == (f["event"] != "router.dispatched") for f in fates)
    # The buffer drained to the session before the end: nothing was cut off.
    assert "shutdown" not in last["counts"]["dropped"]
    turns = [line for line in lines if line["event"] == "session.turn_started"]
    assert len(turns) == last["counts"]["dispatched"]
    # Snapshots came every status_interval seconds, and the final one before the end.
    snapshots = [seconds(line) for line in lines if line["event"] == "service.status"]
    assert snapshots[:3] == [5.0, 10.0, 15.0]
    assert lines[-2]["event"] == "service.status" and lines[-2]["balanced"] is True


def flaky_monitor(service: Service) -> list[ChildSpec]:
    """The configured replay (not ending the run) plus a monitor that always fails."""

    async def always_fails(ctx: ChildContext) -> None:
        ctx.started()
        await trio.sleep(1)
        raise ConnectionError("platform unreachable")

    flaky = ChildSpec(
        id="flaky",
        target=always_fails,
        restart=Restart.PERMANENT,
        backoff=monitor_backoff(service.config.monitors.backoff),
    )
    return [*configured_monitors(service), flaky]


def test_a_failing_monitor_backs_off_gives_up_and_its_siblings_go_on(tmp_path):
    config = config_for(tmp_path, chat_file(tmp_path, 40, gap=1.0), extra="ends_run = false")

    async def stop_later():
        await trio.sleep(60)
        signal.raise_signal(signal.SIGTERM)

    code, lines, _ = run_service(config, monitors=flaky_monitor, during=stop_later)
    assert code == 0
    about_flaky = [line for line in lines if line.get("child") == "flaky"]
    scheduled = [
        (seconds(line), line["delay_s"]) for line in about_flaky if line["event"].endswith("restart_scheduled")
    ]
    # Fails 1 s after each start; backoff 2, 4 (jitter 0); the third failure is max_failures.
    assert scheduled == [(1.0, 2.0), (4.0, 4.0)]
    starts = [seconds(line) for line in about_flaky if line["event"] == "supervision.child.started"]
    assert starts == [0.0, 3.0, 8.0]
    gave_up = [line for line in about_flaky if line["event"] == "supervision.child.gave_up"]
    assert len(gave_up) == 1 and seconds(gave_up[0]) == 9.0
    assert "3 consecutive failures" in gave_up[0]["reason"]
    # The status log shows it failed, while replay, router and session run on.
    status = next(line for line in lines if line["event"] == "service.status" and seconds(line) == 15.0)
    tree = {c["id"]: c for c in status["tree"]["children"]}
    monitors = {c["id"]: c for c in tree["monitors"]["children"]["children"]}
    assert monitors["flaky"]["state"] == "failed"
    assert monitors["flaky"]["last_exit"]["error"] == "ConnectionError: platform unreachable"
    assert monitors["replay"]["state"] == "running"
    assert tree["session"]["state"] == "running" and tree["router"]["state"] == "running"
    later_turns = [line for line in lines if line["event"] == "session.turn_started" and seconds(line) > 9.0]
    assert len(later_turns) >= 10
    assert not [
        line
        for line in lines
        if line.get("child") in ("replay", "router", "session") and line["event"].endswith("restart_scheduled")
    ]
    assert_balanced(lines[-1]["counts"])


def test_sigterm_stops_monitors_first_and_the_counts_add_up(tmp_path):
    config = config_for(tmp_path, chat_file(tmp_path, 40, gap=0.5))

    async def terminate():
        await trio.sleep(7.5)
        signal.raise_signal(signal.SIGTERM)

    code, lines, _ = run_service(config, during=terminate)
    assert code == 0
    assert lines[-1]["event"] == "service.stopped"
    counts = lines[-1]["counts"]
    assert_balanced(counts)
    assert counts["pending"] == 0
    assert counts["dropped"].get("shutdown", 0) > 0  # what was waiting is accounted for, not lost
    exits = [
        line["child"] for line in lines if line["event"] == "supervision.child.exited" and line["supervisor"] == "root"
    ]
    assert exits == ["monitors", "router", "session"]  # reverse start order
    signals = [line for line in lines if line["event"] == "service.signal"]
    assert [s["signal"] for s in signals] == ["SIGTERM"]
    # The session finished its turn inside its grace: the stop took < 3 s.
    assert seconds(lines[-1]) - 7.5 <= 3.0


def test_a_second_signal_stops_at_once(tmp_path):
    config = config_for(tmp_path, chat_file(tmp_path, 40, gap=0.5))
    config = attrs.evolve(config, session=attrs.evolve(config.session, speaking_time=100.0, turn_grace=1000.0))

    async def terminate_twice():
        await trio.sleep(5)
        signal.raise_signal(signal.SIGINT)
        await trio.sleep(1)
        signal.raise_signal(signal.SIGINT)

    code, lines, _ = run_service(config, during=terminate_twice)
    assert code == 0
    assert seconds(lines[-1]) == 6.0  # not 5 + 1000
    assert [s["action"] for s in lines if s["event"] == "service.signal"] == ["graceful stop", "stop at once"]
    assert_balanced(lines[-1]["counts"])


def test_the_last_turn_is_never_cut_at_the_natural_end(tmp_path):
    """Turns longer than the stop grace: the run still ends only after the last
    one, because the session ends the run, not the router."""
    config = config_for(tmp_path, chat_file(tmp_path, 4, gap=1.0))
    config = attrs.evolve(config, session=attrs.evolve(config.session, speaking_time=15.0, turn_grace=10.0))
    code, lines, _ = run_service(config)
    assert code == 0
    ended = [line for line in lines if line["event"] == "session.turn_ended"]
    assert len(ended) == lines[-1]["counts"]["dispatched"] >= 3
    assert not any(line["interrupted"] for line in ended)
    assert not [line for line in lines if line["event"] == "supervision.child.stop_timeout"]


def test_monitors_that_give_up_end_the_run_with_exit_1_and_say_why(tmp_path):
    """A recording that turns unreadable is not retried for ever: the replay
    gives up at once, what was received is still spoken, and the run ends."""
    path = chat_file(tmp_path, 5)
    config = config_for(tmp_path, path)  # valid when checked...
    path.unlink()
    path.mkdir()  # ...and a directory when read: retrying cannot fix that
    code, lines, _ = run_service(config)
    assert code == 1
    [failed] = [line for line in lines if line["event"] == "service.failed"]
    assert "the monitors gave up" in failed["error"] and "is a directory" in failed["error"]
    assert lines[-1]["event"] == "service.stopped" and lines[-1]["exit_code"] == 1
    assert not [line for line in lines if line["event"].endswith("restart_scheduled")]


def test_a_router_step_that_fails_on_one_message_drops_it_with_the_cause_and_goes_on(tmp_path):
    """Not a restart: the router's state outlives incarnations anyway, and a
    run of such messages would count against the root's restart intensity."""
    config = config_for(tmp_path, chat_file(tmp_path, 30, gap=0.5))
    seen = []

    def monitors(service: Service) -> list[ChildSpec]:
        check = service.router.filters.check

        def breaks_on_the_fifth(event, text, key):
            seen.append(event.id)
            if len(seen) == 5:
                raise RuntimeError("router bug")
            return check(event, text, key)

        service.router.filters.check = breaks_on_the_fifth  # type: ignore[method-assign]
        return configured_monitors(service)

    code, lines, _ = run_service(config, monitors=monitors)
    assert code == 0
    assert not [line for line in lines if line.get("child") == "router" and "restart" in line["event"]]
    counts = lines[-1]["counts"]
    assert counts["received"] == 30 and counts["dropped"]["error"] == 1
    assert counts["pending"] == 0
    assert_balanced(counts)
    [dropped] = [line for line in lines if line["event"] == "router.dropped" and line["reason"] == "error"]
    assert dropped["id"] == seen[4] and dropped["error"] == "RuntimeError: router bug"
    assert dropped["level"] == "warning"
    emitted = sum(1 for line in lines if line["event"].startswith("router."))
    assert emitted == counts["received"]


def test_a_router_that_breaks_and_is_stopped_while_backing_off_loses_nothing(tmp_path):
    """Final accounting does not depend on a live router incarnation."""
    config = config_for(tmp_path, chat_file(tmp_path, 30, gap=0.5))

    def monitors(service: Service) -> list[ChildSpec]:
        expire = service.buffer.expire

        def breaks_at_two_seconds(now):
            if 2.0 <= now < 3.0:
                raise RuntimeError("router bug")  # the actor's own loop, not one message
            return expire(now)

        service.buffer.expire = breaks_at_two_seconds  # type: ignore[method-assign]
        return configured_monitors(service)

    async def terminate():
        await trio.sleep(2.25)  # the router broke at t=2 and backs off for 0.5 s
        signal.raise_signal(signal.SIGTERM)

    code, lines, _ = run_service(config, monitors=monitors, during=terminate)
    assert code == 0
    router_events = [line["event"] for line in lines if line.get("child") == "router"]
    assert "supervision.child.restart_scheduled" in router_events
    counts = lines[-1]["counts"]
    assert counts["pending"] == 0
    assert_balanced(counts)
    # Everything the replay sent before the stop was received and given a fate.
    emitted = sum(1 for line in lines if line["event"].startswith("router."))
    assert emitted == counts["received"]


def test_secret_values_are_masked_in_every_log_line():
    out = io.StringIO()
    log = StatusLog(out, fmt="json", redact=["AIzaSyTopSecret123"])
    log.emit("monitor.error", error="GET https://example.invalid/v3/liveChat?key=AIzaSyTopSecret123 failed")
    log.emit("service.status", tree={"last_exit": {"error": "key AIzaSyTopSecret123"}})
    assert "AIzaSyTopSecret123" not in out.getvalue()
    assert out.getvalue().count("***") == 2


def demo_config(tmp_path, archive: str, replay_path: str = "") -> Config:
    """The shipped config.toml, sped up, archiving to `archive`."""
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text = text.replace('path = ""                  # empty: the bundled', f'path = "{replay_path}"  # the bundled', 1)
    text = text.replace('path = ""                  # e.g.', f'path = "{archive}"  # e.g.', 1)
    config = parse_config(text, base_dir=tmp_path, env={})
    # No control surface on virtual time: it would bind a real port.
    control = attrs.evolve(config.control, enabled=False)
    return attrs.evolve(config, session=attrs.evolve(config.session, speaking_time=1.0), control=control)


def test_every_dispatch_logs_why_it_won(tmp_path):
    code, lines, _ = run_service(demo_config(tmp_path, archive=""))
    assert code == 0
    dispatched = [line for line in lines if line["event"] == "router.dispatched"]
    assert dispatched
    leaders = set()
    for line in dispatched:
        if "merged_into" in line:  # one more asker of a crowd: its leader went just before
            assert line["merged_into"] in leaders and "score" not in line
            continue
        parts = {k: v for k, v in line["score"].items() if k != "total"}
        assert line["score"]["total"] == pytest.approx(sum(parts.values()), abs=0.01)
        leaders.add(line["id"])
    paid = [line for line in dispatched if line["kind"] == "donation"]
    assert paid and all("paid" in line["score"] for line in paid)


def test_the_archive_replays_to_the_same_filter_fates(tmp_path):
    """Record tonight, tune tomorrow: the archive is a replay file, and the same
    config gives every event the same filter fate again."""
    code, _, _ = run_service(demo_config(tmp_path, archive="first.jsonl"))
    assert code == 0
    first = [json.loads(line) for line in (tmp_path / "first.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(first) == 235  # every record of the demo, each once
    assert {r["fate"] for r in first} == {"dispatched", "filtered", "dropped"}
    code, _, _ = run_service(demo_config(tmp_path, archive="second.jsonl", replay_path="first.jsonl"))
    assert code == 0
    second = [json.loads(line) for line in (tmp_path / "second.jsonl").read_text(encoding="utf-8").splitlines()]

    def filtered(records):
        return sorted((r["platform"], r["id"], r["reason"]) for r in records if r["fate"] == "filtered")

    assert filtered(second) == filtered(first)
    assert len(filtered(first)) >= 20  # the demo's spam, floods, bots, links and commands
