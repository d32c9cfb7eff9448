"""The OLV session actor against the fake OLV server (tests/fakes/olv.py), on
real loopback sockets and the real clock (short delays), under the real
supervisor, so a dropped connection is a real restart.

What must hold whatever the fake does: N messages give N turns in order,
never two in flight (the fake counts overlaps), no interrupt-signal while
idle (the fake counts those too), and the books balance.
"""

from __future__ import annotations

import io
import itertools
import json
from datetime import UTC, datetime, timedelta

import attrs
import pytest
import trio
from fakes.olv import FakeOlv, Fault, Script
from test_service import chat_file

from actors.app import Service
from actors.chat import Author, ChatEvent, Kind, Platform
from actors.config import parse_config
from actors.i18n import render
from actors.ledger import Ledger
from actors.monitors.common.retry import RetryRule
from actors.router.actor import Router, RoutingSettings
from actors.router.filters import FilterSettings
from actors.session.olv import OlvSession, OlvSettings
from actors.session.olv_protocol import Mode, Timing
from actors.session.prompt import format_turn
from actors.session.steering import Skipper
from actors.statuslog import StatusLog
from supervision import AutoShutdown, Backoff, ChildSpec, Restart, SupervisionError, Supervisor, SupervisorSpec

EPOCH = datetime(2026, 11, 24, 1, tzinfo=UTC)
QUICK = Script(sentences=["[joy] Hi there! ", "Nice to see you."], volumes=3, llm_delay=0.01, slow_start=1.5)
TIMING = Timing(start_timeout=1.0, llm_budget=1.5, turn_margin=0.5, resend_every=0.2, watchdog_margin=0.3)
# Every filter that could drop a test message is off: these tests are about turns.
OPEN_ROUTER = RoutingSettings(
    filters=FilterSettings(rate_per_minute=0, repeat_window=0, flood_authors=0, min_length=0, bots=()),
    capacity=100,
)


def chats(n: int) -> list[ChatEvent]:
    return [
        ChatEvent(
            Platform.YOUTUBE,
            f"m{i}",
            Kind.CHAT,
            Author(f"a{i}", f"viewer{i}"),
            f"message {i}",
            None,
            EPOCH + timedelta(seconds=i),
            received_at=float(i),
        )
        for i in range(n)
    ]


def supervised(olv: OlvSession) -> Supervisor:
    """The session as the service runs it: restarted (reconnected) with backoff,
    and the run over when it returns (all input spoken)."""
    session = ChildSpec(
        id="session",
        target=olv.run,
        restart=Restart.TRANSIENT,
        significant=True,
        backoff=Backoff(min_delay=0.05, max_delay=0.2, jitter=0.0),
    )
    spec = SupervisorSpec(
        id="root", children=[session], intensity=100, period=10.0, auto_shutdown=AutoShutdown.ANY_SIGNIFICANT
    )
    return Supervisor(spec)


@attrs.define
class Run:
    fake: FakeOlv
    ledger: Ledger
    log: list[tuple[str, str, dict]]
    ended: list[tuple[list[str], dict]]
    restarts: int

    def events(self, name: str) -> list[dict]:
        return [fields for event, _, fields in self.log if event == name]


async def run_session(
    fake: FakeOlv,
    events: list[ChatEvent],
    *,
    mode: Mode = Mode.CLIENT_WS,
    timing: Timing = TIMING,
    during=None,
    deadline: float = 30.0,
    **settings,
) -> Run:
    """Serve the fake, route `events`, run the session under a supervisor
    until every message is spoken; `during(fake, nursery)` may add faults."""
    ledger = Ledger()
    router = Router(ledger, OPEN_ROUTER)
    log: list[tuple[str, str, dict]] = []
    ended: list[tuple[list[str], dict]] = []

    def emit(event: str, level: str = "info", **fields) -> None:
        log.append((event, level, fields))

    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        path = "/proxy-ws" if mode is Mode.PROXY_WS else "/client-ws"
        olv = OlvSession(
            router.buffer,
            OlvSettings(
                url=fake.url(path), mode=mode, timing=timing, heartbeat_every=0.5, silence_timeout=3.0, **settings
            ),
            format_turn=format_turn,
            emit=emit,
            on_turn_ended=lambda evs, fields: ended.append(([e.id for e in evs], fields)),
        )
        supervisor = supervised(olv)
        for event in events:
            router.route(event, trio.current_time())
        router.buffer.finish_input()
        if during is not None:
            nursery.start_soon(during, fake, nursery)
        with trio.fail_after(deadline):
            await supervisor.run()
        restarts = supervisor.snapshot().children[0].restarts
        nursery.cancel_scope.cancel()
    router.buffer.close()
    assert ledger.balanced, ledger.to_dict()
    return Run(fake, ledger, log, ended, restarts)


def assert_safe(run: Run) -> None:
    """What must hold after any run."""
    assert run.fake.overlaps == 0
    assert run.fake.idle_interrupts == 0
    assert run.ledger.balanced


async def test_n_messages_give_n_turns_in_order_never_two_in_flight():
    fake = FakeOlv(QUICK)
    events = chats(6)
    run = await run_session(fake, events)
    assert_safe(run)
    texts = [t.text for t in fake.turns]
    # OLV got exactly the turns the session started, in that order, each once.
    assert texts == [fields["text"] for fields in run.events("session.turn_started")]
    assert sorted(texts) == sorted(format_turn([e]) for e in events)
    assert all(t.outcome == "ended" for t in fake.turns)
    assert run.ledger.dispatched == 6
    assert not run.fake.interrupts
    # Each turn's reply came back with its message, and the AI spoke before it was released.
    replies = [fields["reply"] for _, fields in run.ended]
    assert replies == ["[joy] Hi there! Nice to see you."] * 6
    for _, fields in run.ended:
        assert fields["outcome"] == "ended"
        assert fields["audio_s"] == pytest.approx(0.12)
        assert fields["duration_s"] >= 0.12  # paced by the audio, not released at once


async def test_turns_follow_the_ranking():
    """The session pulls the best message only when idle: a paid message that
    arrives while a turn runs goes next, before older chat."""
    fake = FakeOlv(QUICK)
    events = chats(3)
    paid = attrs.evolve(events[2], id="paid", kind=Kind.DONATION, amount=None, text="paid one")
    run = await run_session(fake, [*events[:2], paid])
    assert_safe(run)
    assert fake.turns[0].text == format_turn([paid])


@pytest.mark.parametrize("fault", [Fault.LLM_ERROR, Fault.NO_TTS, Fault.HUGE_AUDIO])
async def test_a_turn_that_still_ends_recovers_and_the_service_goes_on(fault):
    fake = FakeOlv(QUICK)
    fake.faults = [fault]
    run = await run_session(fake, chats(3))
    assert_safe(run)
    assert len(fake.turns) == 3 and all(t.outcome == "ended" for t in fake.turns)
    assert run.ledger.dispatched == 3
    assert run.restarts == 0
    if fault is Fault.LLM_ERROR:
        assert run.ended[0][1]["errors"] and run.ended[0][1]["errors"][0].startswith("Error processing agent")


async def test_a_fatal_error_without_chain_end_does_not_wedge_us():
    fake = FakeOlv(QUICK)
    fake.faults = [Fault.FATAL_ERROR]
    run = await run_session(fake, chats(3))
    assert_safe(run)
    assert [t.outcome for t in fake.turns] == ["fatal", "ended", "ended"]
    assert run.ended[0][1]["outcome"] == "failed"
    assert run.ledger.dispatched == 3  # it started: dispatched, once
    assert not fake.interrupts  # a direct session is idle after it: no interrupt


async def test_a_wedged_turn_is_interrupted_with_what_was_heard():
    fake = FakeOlv(QUICK)
    fake.faults = [Fault.WEDGE]
    run = await run_session(fake, chats(2))
    assert_safe(run)
    assert [t.outcome for t in fake.turns] == ["interrupted", "ended"]
    assert fake.interrupts == [("[joy] Hi there! Nice to see you.", True)]
    assert run.ended[0][1]["outcome"] == "interrupted"
    assert run.ledger.dispatched == 2


async def test_a_slow_start_is_a_lost_message_that_waits_again():
    """No chain-start within start_timeout: the message goes back to the
    buffer (not dispatched twice), the connection is renewed so a late
    start cannot overlap, and it is spoken after all."""
    fake = FakeOlv(QUICK)
    fake.faults = [Fault.SLOW_START]
    run = await run_session(fake, chats(2))
    assert_safe(run)
    assert fake.connections >= 2  # reconnected inside the actor, no restart
    assert run.restarts == 0
    assert run.ledger.dispatched == 2
    spoken = [t.text for t in fake.turns if t.outcome == "ended"]
    assert sorted(spoken) == sorted(format_turn([e]) for e in chats(2))
    assert run.events("session.turn_lost")


async def test_the_server_closing_mid_turn_is_a_reconnect_and_the_service_goes_on():
    fake = FakeOlv(QUICK)
    fake.faults = [Fault.CLOSE_MID_TURN]
    run = await run_session(fake, chats(3))
    assert_safe(run)
    assert run.restarts == 0 and fake.connections >= 2  # the session reconnected itself
    assert run.events("session.retry")
    assert run.ledger.dispatched == 3  # the cut-off turn had started: dispatched once, not resent
    assert run.ended[0][1]["outcome"] == "cut_off"
    assert [t.outcome for t in fake.turns[1:]] == ["ended", "ended"]


async def test_no_olv_yet_is_retried_with_backoff():
    """OLV starts after us: connection refused, then it works."""
    fake = FakeOlv(QUICK)
    ledger = Ledger()
    router = Router(ledger, OPEN_ROUTER)
    for event in chats(1):
        router.route(event, 0.0)
    router.buffer.finish_input()
    log: list = []
    with trio.socket.socket() as probe:  # a free port nobody listens on yet
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    olv = OlvSession(
        router.buffer,
        OlvSettings(url=f"ws://127.0.0.1:{port}/client-ws", timing=TIMING, heartbeat_every=0.5, silence_timeout=3.0),
        format_turn=format_turn,
        emit=lambda event, level="info", **f: log.append(event),
    )
    supervisor = supervised(olv)
    async with trio.open_nursery() as nursery:

        async def olv_comes_up_late() -> None:
            await trio.sleep(0.5)
            await fake.serve(port=port)

        nursery.start_soon(olv_comes_up_late)
        with trio.fail_after(20):
            await supervisor.run()
        nursery.cancel_scope.cancel()
    # Retried inside the actor by the common rule, not restarted by its supervisor.
    assert supervisor.snapshot().children[0].restarts == 0
    assert log.count("session.retry") >= 1
    assert ledger.dispatched == 1 and fake.overlaps == 0


async def test_through_the_proxy_with_no_frontend_the_watchdog_releases_turns():
    fake = FakeOlv(QUICK, enable_proxy=True)
    run = await run_session(fake, chats(3), mode=Mode.PROXY_WS)
    assert run.fake.overlaps == 0
    assert fake.proxy_idle_interrupts == 0 and fake.idle_interrupts == 0
    assert [t.outcome for t in fake.turns] == ["ended"] * 3
    assert run.ledger.dispatched == 3
    # never released before the audio plus the watchdog margin
    for _, fields in run.ended:
        assert fields["duration_s"] >= 0.12 + TIMING.watchdog_margin - 0.05


async def test_through_the_proxy_a_fatal_error_is_unblocked_by_an_interrupt():
    fake = FakeOlv(QUICK, enable_proxy=True)
    fake.faults = [Fault.FATAL_ERROR]
    run = await run_session(fake, chats(2), mode=Mode.PROXY_WS)
    assert run.fake.overlaps == 0
    assert fake.proxy_idle_interrupts == 0
    assert [t.outcome for t in fake.turns] == ["fatal", "ended"]
    assert run.ledger.dispatched == 2


async def test_create_new_history_every_n_turns():
    fake = FakeOlv(QUICK)
    run = await run_session(fake, chats(5), new_history_every=2)
    assert_safe(run)
    assert fake.history_resets == 2  # after turns 2 and 4
    assert len(run.events("session.history_reset")) == 2


async def test_idle_speech_when_chat_is_quiet():
    fake = FakeOlv(QUICK)
    ledger = Ledger()
    router = Router(ledger, OPEN_ROUTER)
    log: list = []
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        olv = OlvSession(
            router.buffer,
            OlvSettings(url=fake.url(), timing=TIMING, idle_speak_after=0.3, heartbeat_every=0.5, silence_timeout=3.0),
            format_turn=format_turn,
            emit=lambda event, level="info", **f: log.append(event),
        )
        supervisor = supervised(olv)

        async def chat_later() -> None:
            await trio.sleep(1.0)
            for event in chats(1):
                router.route(event, trio.current_time())
            router.buffer.finish_input()

        nursery.start_soon(chat_later)
        with trio.fail_after(20):
            await supervisor.run()
        nursery.cancel_scope.cancel()
    kinds = [t.kind for t in fake.turns]
    assert "ai-speak-signal" in kinds and kinds[-1] == "text-input"
    assert fake.overlaps == 0 and fake.idle_interrupts == 0
    assert ledger.dispatched == 1


async def test_the_whole_service_speaks_through_olv_and_archives_each_reply(tmp_path):
    """`python -m actors` with session.kind = "olv": the replay's messages are
    spoken one turn each, the run ends by itself, and the archive holds every
    dispatched message with the AI's reply and its turn's timings."""
    fake = FakeOlv(QUICK)
    path = chat_file(tmp_path, 5, gap=0.05)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        config = parse_config(
            f"""
[router]
capacity = 10
[router.filters]
rate_per_minute = 0.0
[session]
kind = "olv"
[session.olv]
url = "{fake.url()}"
start_timeout = 1.0
[monitors.replay]
path = "{path.name}"
speed = 10.0
[archive]
path = "archive.jsonl"
""",
            base_dir=tmp_path,
            env={},
        )
        out = io.StringIO()
        with trio.fail_after(30):
            code = await Service(config, StatusLog(out, fmt="json")).run()
        nursery.cancel_scope.cancel()
    assert code == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[-1]["event"] == "service.stopped" and lines[-1]["counts"]["dispatched"] == 5
    assert fake.overlaps == 0 and len(fake.turns) == 5
    records = [json.loads(line) for line in (tmp_path / "archive.jsonl").read_text("utf-8").splitlines()]
    spoken = [r for r in records if r["fate"] == "dispatched"]
    assert len(spoken) == 5
    for record in spoken:
        assert record["reply"] == "[joy] Hi there! Nice to see you."
        assert record["turn"]["outcome"] == "ended" and record["turn"]["audio_s"] == pytest.approx(0.12)
        assert record["score"]["total"] is not None


async def test_a_stop_lets_the_turn_in_progress_finish_and_sends_nothing_more():
    """A graceful stop mid-turn: the AI finishes its sentence (no interrupt,
    no new text-input), then the session ends; what still waits is left to
    the service's final accounting."""
    fake = FakeOlv(attrs.evolve(QUICK, volumes=25))  # half a second of speech per sentence
    ledger = Ledger()
    router = Router(ledger, OPEN_ROUTER)
    for event in chats(3):
        router.route(event, trio.current_time())
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        olv = OlvSession(
            router.buffer,
            OlvSettings(url=fake.url(), timing=TIMING, heartbeat_every=0.5, silence_timeout=3.0),
            format_turn=format_turn,
            emit=lambda event, *a, **k: event == "session.turn_started" and supervisor.stop(),
        )
        supervisor = supervised(olv)
        with trio.fail_after(10):
            await supervisor.run()
        nursery.cancel_scope.cancel()
    assert [t.outcome for t in fake.turns] == ["ended"]
    assert not fake.interrupts and fake.overlaps == 0
    assert ledger.dispatched == 1 and ledger.pending == 2
    router.buffer.close()
    assert ledger.dropped == {"shutdown": 2} and ledger.balanced


@pytest.mark.parametrize(("key", "value"), [("max_retries", "-1"), ("retry_interval", "0"), ("max_retries", '"ten"')])
def test_the_retry_settings_are_checked_by_name(key, value):
    from actors.config import ConfigError

    with pytest.raises(ConfigError, match=f"session.olv.{key}"):
        parse_config(f"[session]\nkind = 'olv'\n[session.olv]\n{key} = {value}\n", env={})


def test_the_retry_settings_reach_the_session():
    config = parse_config("[session]\nkind = 'olv'\nturn_grace = 7.0\n[session.olv]\nmax_retries = 3\n", env={})
    settings = config.session.olv.settings(batch=1, stop_grace=config.session.turn_grace)
    assert settings.retry.max_retries == 3 and settings.retry.retry_interval == 5.0
    assert settings.stop_grace == 7.0


async def _first_connect_error(url: str, language: str = "en") -> str:
    """The error the session reports when it cannot connect to `url` (no retries)."""
    ledger = Ledger()
    router = Router(ledger, OPEN_ROUTER)
    retries: list[str] = []
    olv = OlvSession(
        router.buffer,
        OlvSettings(url=url, timing=TIMING, retry=RetryRule(max_retries=1, retry_interval=0.01)),
        format_turn=format_turn,
        emit=lambda event, level="info", **f: retries.append(f["error"]) if event == "session.retry" else None,
    )
    # Not restarted: the run ends with the session's first failure.
    session = ChildSpec(id="session", target=olv.run, restart=Restart.TEMPORARY, significant=True)
    supervisor = Supervisor(SupervisorSpec(id="root", children=[session], auto_shutdown=AutoShutdown.ANY_SIGNIFICANT))
    with trio.fail_after(10), pytest.raises(SupervisionError):
        await supervisor.run()
    last = supervisor.snapshot().children[0].last_exit
    assert last is not None and last.error is not None
    # The retry line and the status say the same (the log line also names the error's type).
    assert retries and retries[0].removeprefix("OlvError: ") in last.error
    return render(last.error_detail, language, "") if language != "en" else last.error


async def test_when_olv_is_not_running_the_error_names_the_url_and_asks():
    with trio.socket.socket() as probe:  # a free port nobody listens on
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/client-ws"
    error = await _first_connect_error(url)
    assert error.endswith(f"cannot connect to {url}: is Open-LLM-VTuber running there? (Connection refused)")
    # The dashboard and the console show the same in Korean, from the error's key.
    korean = await _first_connect_error(url, "ko")
    assert korean.startswith("OLV: 1번 다시 시도해도 실패했습니다")
    assert korean.endswith(f"{url}에 연결할 수 없습니다: Open-LLM-VTuber가 그 주소에서 실행 중인가요? (연결 거부됨)")


async def test_a_server_that_refuses_the_path_is_asked_about_the_path():
    fake = FakeOlv(QUICK)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        url = fake.url("/wrong-ws")
        error = await _first_connect_error(url)
        nursery.cancel_scope.cancel()
    assert error.endswith(
        f"cannot connect to {url}: the server there answered HTTP 403: is the path /client-ws or /proxy-ws?"
    )


async def test_the_streamer_skips_an_answer_and_olv_is_told_what_was_heard():
    """Skip mid-answer: an interrupt-signal with the heard text (so the AI's
    memory holds what the audience heard), the turn ends `interrupted`, and
    the next message's turn follows. A skip with nothing running says so."""
    fake = FakeOlv(attrs.evolve(QUICK, volumes=25))  # half a second of speech per sentence
    skipper = Skipper()
    skips: list[bool] = []
    news: list[tuple[str, str, str | None]] = []

    def emit(event: str, level: str = "info", **fields) -> None:
        log.append((event, level, fields))
        if event == "session.turn_started" and not skips:  # the first turn
            skips.append(skipper.skip())

    log: list[tuple[str, str, dict]] = []
    ledger = Ledger()
    router = Router(ledger, OPEN_ROUTER)
    assert not skipper.skip()  # no session yet
    for event in chats(2):
        router.route(event, trio.current_time())
    router.buffer.finish_input()
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        olv = OlvSession(
            router.buffer,
            OlvSettings(url=fake.url(), timing=TIMING, heartbeat_every=0.5, silence_timeout=3.0),
            format_turn=format_turn,
            emit=emit,
            skipper=skipper,
            on_turn_started=lambda evs, fields: news.append(("started", evs[0].id, fields.get("text"))),
            on_turn_progress=lambda evs, fields: news.append(("progress", evs[0].id, fields["reply"])),
        )
        with trio.fail_after(10):
            await supervised(olv).run()
        nursery.cancel_scope.cancel()
    # The overlay's news: each turn's start, then its reply each time it grew.
    second = [n for n in news if n[1] == news[-1][1]]
    assert second[0][0] == "started" and [n[0] for n in second[1:]] == ["progress"] * (len(second) - 1)
    replies = [n[2] for n in second[1:]]
    assert (
        replies
        and replies[-1] == "[joy] Hi there! Nice to see you."
        and all(later.startswith(earlier) and later != earlier for earlier, later in itertools.pairwise(replies))
    )
    assert skips == [True]
    assert [t.outcome for t in fake.turns] == ["interrupted", "ended"]
    assert len(fake.interrupts) == 1 and fake.overlaps == 0 and fake.idle_interrupts == 0
    assert [f["reason"] for e, _, f in log if e == "session.interrupted"] == ["skipped"]
    assert ledger.dispatched == 2 and ledger.balanced
    assert not skipper.skip()  # the session's run is over: nothing to skip
