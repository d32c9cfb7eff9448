"""The OLV turn machine, pure: any interleaving of server messages, clock
steps and our own sends (reference: shared/reference/olv.md §2.4-2.7)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.session.olv_protocol import (
    TRANSITIONS,
    TURN_PHASES,
    Due,
    Heard,
    Mode,
    OlvTurns,
    Phase,
    Signal,
    Timing,
    classify,
    next_phase,
)
from actors.session.sentences import join_sentences

TIMING = Timing(start_timeout=5.0, llm_budget=30.0, turn_margin=5.0, resend_every=1.5, watchdog_margin=8.0)


def control(text: str) -> dict:
    return {"type": "control", "text": text}


def audio(text: str, slices: int) -> dict:
    return {
        "type": "audio",
        "audio": "UklGRg==" if slices else None,
        "volumes": [0.5] * slices,
        "slice_length": 20,
        "display_text": {"text": text, "name": "Mao", "avatar": "mao.png"},
        "actions": {},
        "forwarded": False,
    }


SERVER_MESSAGES = st.sampled_from(
    [
        control("conversation-chain-start"),
        control("conversation-chain-end"),
        {"type": "full-text", "text": "Thinking..."},
        audio("Hi! ", 50),
        audio("...", 0),
        {"type": "backend-synth-complete"},
        {"type": "force-new-message"},
        {"type": "error", "message": "Error processing agent response: boom"},
        {"type": "error", "message": "Conversation error: bad images"},
        {"type": "heartbeat-ack"},
        {"type": "control", "text": "start-mic"},
        {"unexpected": True},
    ]
)

# ("server", message) | ("tick", seconds) | ("send", None): we send only when idle, as the actor does
steps = st.lists(
    st.one_of(
        st.tuples(st.just("server"), SERVER_MESSAGES),
        st.tuples(st.just("tick"), st.floats(0, 20, allow_nan=False)),
        st.tuples(st.just("send"), st.none()),
    ),
    max_size=60,
)


def run_steps(mode: Mode, ops: list) -> tuple[OlvTurns, list[tuple[float, Due, Phase]]]:
    """Plays ops like the actor: after each step, does whatever is due."""
    machine = OlvTurns(mode, TIMING)
    now = 0.0
    done: list[tuple[float, Due, Phase]] = []
    for kind, value in ops:
        if kind == "server":
            machine.receive(value, now)
        elif kind == "tick":
            now += value
        elif machine.phase is Phase.IDLE:
            machine.text_input("[YouTube] a: hi", now)
        while True:
            phase = machine.phase
            due = machine.due(now)
            if due is None:
                break
            done.append((now, due, phase))
            if due is Due.INTERRUPT:
                message = machine.interrupt(now)
                assert message["type"] == "interrupt-signal"
    return machine, done


@given(steps, st.sampled_from(list(Mode)))
def test_playback_complete_only_during_a_turn_after_synth_complete(ops, mode):
    """Never early (OLV drops it and waits forever) and never after chain-end
    (it would release the next turn)."""
    machine = OlvTurns(mode, TIMING)
    now = 0.0
    synth_seen_this_turn = False
    for kind, value in ops:
        if kind == "server":
            signal = machine.receive(value, now)
            if signal is Signal.CHAIN_START and machine.phase in TURN_PHASES:
                synth_seen_this_turn = False
            if signal is Signal.SYNTH_COMPLETE and machine.phase in TURN_PHASES:
                synth_seen_this_turn = True
        elif kind == "tick":
            now += value
        elif machine.phase is Phase.IDLE:
            machine.text_input("x", now)
        while (due := machine.due(now)) is not None:
            if due is Due.PLAYBACK_COMPLETE:
                assert machine.phase in TURN_PHASES
                assert synth_seen_this_turn
            if due is Due.INTERRUPT:
                machine.interrupt(now)


@given(steps, st.sampled_from(list(Mode)))
def test_an_interrupt_is_only_ever_due_during_a_turn(ops, mode):
    """Sent while idle it rewrites the AI's last answer in memory to '...'."""
    _, done = run_steps(mode, ops)
    for _, due, phase in done:
        if due is Due.INTERRUPT:
            assert phase in TURN_PHASES


@given(steps, st.sampled_from(list(Mode)))
def test_every_turn_ends_even_if_the_server_goes_silent(ops, mode):
    """Liveness: whatever happened, jumping the clock to each deadline brings
    the machine back to idle (chain-end never needed)."""
    machine, _ = run_steps(mode, ops)
    now = 1e6 if not ops else sum(v for k, v in ops if k == "tick")
    for _ in range(100):  # playback resends every 1.5 s until the budget ends
        if machine.phase is Phase.IDLE:
            break
        deadline = machine.deadline()
        assert deadline < math.inf, machine.phase
        now = max(now, deadline)
        due = machine.due(now)
        if due is Due.INTERRUPT:
            machine.interrupt(now)
    assert machine.phase is Phase.IDLE


@given(steps)
def test_a_second_message_is_refused_until_the_turn_is_over(ops):
    machine, _ = run_steps(Mode.CLIENT_WS, ops)
    if machine.phase is not Phase.IDLE:
        with pytest.raises(RuntimeError, match="two turns"):
            machine.text_input("again", 0.0)


def test_a_direct_turn_answers_after_the_audio_then_resends_until_chain_end():
    m = OlvTurns(Mode.CLIENT_WS, TIMING)
    m.text_input("hi", 0.0)
    m.receive(control("conversation-chain-start"), 0.1)
    m.receive(audio("[joy] Hello! ", 100), 1.0)  # 2 s of speech, playing 1.0-3.0
    m.receive(audio("Nice day.", 50), 1.2)  # 1 s more, 3.0-4.0
    m.receive({"type": "backend-synth-complete"}, 1.3)
    m.receive({"type": "backend-synth-complete"}, 1.3)
    assert m.due(3.9) is None  # the audio is still playing
    assert m.deadline() == pytest.approx(4.0)
    assert m.due(4.0) is Due.PLAYBACK_COMPLETE
    assert m.due(4.1) is None
    assert m.due(5.5) is Due.PLAYBACK_COMPLETE  # resent: the first may have been early
    m.receive({"type": "force-new-message"}, 5.6)
    m.receive(control("conversation-chain-end"), 5.7)
    assert m.phase is Phase.IDLE
    assert m.due(100.0) is None  # never after chain-end
    assert m.last is not None
    assert m.last.reply == "[joy] Hello! Nice day."
    assert m.last.audio_s == pytest.approx(3.0)
    assert m.last.outcome == "ended"


def test_through_the_proxy_the_frontend_releases_the_turn_and_we_only_watch():
    m = OlvTurns(Mode.PROXY_WS, TIMING)
    m.text_input("hi", 0.0)
    m.receive(control("conversation-chain-start"), 0.1)
    m.receive(audio("Hello!", 100), 1.0)  # plays until 3.0
    m.receive({"type": "backend-synth-complete"}, 1.1)
    assert m.due(10.9) is None  # the frontend has until audio end + watchdog margin
    assert m.due(11.0) is Due.PLAYBACK_COMPLETE


def test_no_start_in_time_means_the_message_was_lost():
    m = OlvTurns(Mode.CLIENT_WS, TIMING)
    m.text_input("hi", 10.0)
    assert m.deadline() == 15.0
    assert m.due(14.9) is None
    assert m.due(15.0) is Due.LOST
    assert m.phase is Phase.IDLE
    assert m.last is not None and m.last.outcome == "lost"


def test_a_hung_turn_is_interrupted_with_what_was_heard():
    m = OlvTurns(Mode.CLIENT_WS, TIMING)
    m.text_input("hi", 0.0)
    m.receive(control("conversation-chain-start"), 1.0)
    m.receive(audio("I was say", 50), 2.0)  # 1 s of audio
    budget_end = 1.0 + 30.0 + 1.0 + 5.0
    assert m.deadline() == pytest.approx(budget_end)
    assert m.due(budget_end) is Due.INTERRUPT
    assert m.interrupt(budget_end) == {"type": "interrupt-signal", "text": "I was say"}
    assert m.phase is Phase.IDLE
    with pytest.raises(RuntimeError, match="rewrite"):
        m.interrupt(budget_end)


def test_nothing_heard_interrupts_with_the_last_full_answer():
    m = OlvTurns(Mode.CLIENT_WS, TIMING)
    m.text_input("one", 0.0)
    m.receive(control("conversation-chain-start"), 0.0)
    m.receive(audio("First answer.", 5), 0.1)
    m.receive(control("conversation-chain-end"), 0.2)
    m.text_input("two", 1.0)
    m.receive(control("conversation-chain-start"), 1.0)
    assert m.due(1000.0) is Due.INTERRUPT
    assert m.interrupt(1000.0)["text"] == "First answer."


def test_a_fatal_error_ends_a_direct_turn_without_chain_end():
    m = OlvTurns(Mode.CLIENT_WS, TIMING)
    m.text_input("hi", 0.0)
    m.receive(control("conversation-chain-start"), 0.1)
    m.receive({"type": "error", "message": "Conversation error: bad source"}, 0.2)
    assert m.phase is Phase.IDLE  # the direct session is idle: no interrupt (it would rewrite memory)
    assert m.due(1000.0) is None
    assert m.last is not None and m.last.outcome == "failed"


def test_through_the_proxy_a_fatal_error_needs_an_interrupt_to_reopen_the_queue():
    m = OlvTurns(Mode.PROXY_WS, TIMING)
    m.text_input("hi", 0.0)
    m.receive(control("conversation-chain-start"), 0.1)
    m.receive({"type": "error", "message": "Conversation error: bad source"}, 0.2)
    assert m.phase is Phase.IN_TURN
    assert m.deadline() == -math.inf
    assert m.due(0.2) is Due.INTERRUPT
    m.interrupt(0.2)
    assert m.phase is Phase.IDLE
    assert m.last is not None and m.last.outcome == "failed"


def test_an_llm_error_is_noted_and_the_turn_goes_on():
    m = OlvTurns(Mode.CLIENT_WS, TIMING)
    m.text_input("hi", 0.0)
    m.receive(control("conversation-chain-start"), 0.1)
    m.receive({"type": "error", "message": "Error processing agent response: timeout"}, 0.2)
    assert m.phase is Phase.IN_TURN
    m.receive(control("conversation-chain-end"), 0.3)
    assert m.last is not None and m.last.errors == ["Error processing agent response: timeout"]
    assert m.last.outcome == "ended"


def test_a_turn_we_did_not_start_keeps_us_waiting():
    m = OlvTurns(Mode.PROXY_WS, TIMING)
    m.receive(control("conversation-chain-start"), 0.0)
    assert m.phase is Phase.FOREIGN
    with pytest.raises(RuntimeError):
        m.text_input("hi", 0.1)
    m.receive(control("conversation-chain-end"), 2.0)
    assert m.phase is Phase.IDLE


@given(st.dictionaries(st.text(max_size=5), st.none() | st.integers() | st.text(max_size=5) | st.lists(st.integers())))
def test_classify_never_raises(message):
    signal, _ = classify(message)
    assert isinstance(signal, Signal)


@given(st.lists(st.floats(0, 1), max_size=300), st.one_of(st.integers(-5, 100), st.floats(), st.text(max_size=3)))
def test_audio_length_is_slices_times_slice_length(volumes, slice_length):
    _, heard = classify({"type": "audio", "volumes": volumes, "slice_length": slice_length})
    assert isinstance(heard, Heard)
    assert heard.audio_s >= 0 and math.isfinite(heard.audio_s)
    if isinstance(slice_length, int) and slice_length > 0:
        assert heard.audio_s == pytest.approx(len(volumes) * slice_length / 1000)
    assert classify({"type": "audio", "volumes": [0.1] * 10, "slice_length": 1e308})[1] == Heard("", 600.0)


def test_the_transition_table_only_ends_turns_on_end_signals():
    for (phase, signal), after in TRANSITIONS.items():
        if phase in TURN_PHASES and after is Phase.IDLE:
            # TRANSCRIPTION: another client interrupted our turn to start its own.
            assert signal in (Signal.CHAIN_END, Signal.FATAL_ERROR, Signal.INTERRUPTED, Signal.TRANSCRIPTION)
    assert next_phase(Phase.IDLE, Signal.CHAIN_END) is Phase.IDLE  # a stale end changes nothing


# ---- proxy-ws: whose turn is it? -------------------------------------------------------------


class ProxyWorld:
    """A model of OLV's /proxy-ws (reference §3) as one client (us) sees it,
    with a second client typing and a frontend that may barge in: a FIFO of
    text-inputs gated on `active`; just before forwarding another client's
    text, a user-input-transcription copy to us (never for our own); every
    upstream message broadcast. It keeps the truth the machine must guess."""

    def __init__(self, machine: OlvTurns) -> None:
        self.m = machine
        self.now = 0.0
        self.queue: list[tuple[str, str]] = []  # (owner, text)
        self.active = False
        self.current: tuple[str, str] | None = None  # the turn running on the server
        self.current_audio: list[str] = []
        self.ours_cancelled = False  # our turn was cancelled silently by a barge-in
        self.typed = 0
        self.sent: list[str] = []
        self.spoken: list[tuple[str, str, str]] = []  # (owner, text, reply) of every turn started
        self.idle_interrupts = 0

    def deliver(self, message: dict) -> None:
        self.m.receive(message, self.now)

    def pop(self) -> None:
        if self.active or not self.queue:
            return
        owner, text = self.queue.pop(0)
        self.active = True
        if owner != "us":
            self.deliver({"type": "user-input-transcription", "text": text})
        self.current, self.current_audio = (owner, text), []
        self.ours_cancelled = False
        self.deliver(control("conversation-chain-start"))

    def step(self, op: str, value: float) -> None:
        if op == "send" and self.m.phase is Phase.IDLE:
            text = f"ours {len(self.sent)}"
            # Never twice, never two at once: nothing of ours is queued or running.
            assert all(owner != "us" for owner, _ in self.queue)
            assert self.current is None or self.current[0] != "us" or self.ours_cancelled
            self.m.text_input(text, self.now)
            self.sent.append(text)
            self.queue.append(("us", text))
        elif op == "type":
            self.queue.append(("them", f"typed {self.typed}"))
            self.typed += 1
        elif op == "pop":
            self.pop()
        elif op == "audio" and self.current is not None:
            sentence = f"about {self.current[1]}. "
            self.current_audio.append(sentence)
            self.deliver(audio(sentence, 10))
        elif op == "synth" and self.current is not None:
            self.deliver({"type": "backend-synth-complete"})
        elif op == "end" and self.current is not None:
            self.finish()
            self.active = False
            self.deliver(control("conversation-chain-end"))
        elif op == "fatal" and self.current is not None:
            self.finish()
            self.active = True  # blocked until someone interrupts
            self.deliver({"type": "error", "message": "Conversation error: bad images"})
        elif op == "barge" and self.current is not None:
            # The browser user types mid-answer: interrupt-signal (the server
            # cancels the turn silently), then a text-input, queued.
            self.ours_cancelled = self.current[0] == "us"
            self.finish()
            self.active = False
            self.queue.append(("them", f"typed {self.typed}"))
            self.typed += 1
        elif op == "tick":
            self.pop()  # the real proxy polls every 0.1 s: it never sits idle with a queue
            self.now += value
        self.do_what_is_due()

    def finish(self) -> None:
        assert self.current is not None
        self.spoken.append((*self.current, join_sentences(self.current_audio)))
        self.current = None

    def do_what_is_due(self) -> None:
        while (due := self.m.due(self.now)) is not None:
            assert due is not Due.LOST, "our message was declared lost while it waited its turn"
            if due is Due.INTERRUPT:
                if self.current is None and not self.active:
                    self.idle_interrupts += 1
                self.m.interrupt(self.now)
                if self.current is not None:
                    self.finish()
                self.active = False

    def check(self) -> None:
        """The machine's guess against the truth."""
        if self.m.phase is Phase.IN_TURN:
            assert self.ours_cancelled or (self.current is not None and self.current[0] == "us")
        if self.current is not None and self.current[0] == "us":
            assert self.m.phase is Phase.IN_TURN
        if self.current is not None and self.current[0] == "them":
            assert self.m.phase in (Phase.FOREIGN, Phase.QUEUED)
        if any(owner == "us" for owner, _ in self.queue):
            assert self.m.phase in (Phase.AWAITING_START, Phase.QUEUED)


world_ops = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["send", "type", "pop", "audio", "synth", "end", "fatal", "barge"]), st.just(0.0)),
        st.tuples(st.just("tick"), st.floats(0, 30, allow_nan=False)),
    ),
    max_size=80,
)


@given(world_ops)
def test_through_the_proxy_every_turn_is_credited_to_its_own_message(ops):
    """Whatever the other clients do and however the turns interleave: a
    turn is taken for ours exactly when it is ours, our reply is the reply to
    our message, our message is never sent while it is still queued (so
    never spoken twice), never declared lost while the proxy is busy with
    others, and no interrupt goes to an idle OLV."""
    machine = OlvTurns(Mode.PROXY_WS, TIMING)
    world = ProxyWorld(machine)
    ours: list = []
    for op, value in ops:
        if op == "send" and machine.phase is Phase.IDLE:
            world.step(op, value)
            ours.append((machine.last, world.sent[-1]))
        else:
            world.step(op, value)
        world.check()
    assert world.idle_interrupts == 0
    replies = {text: reply for owner, text, reply in world.spoken if owner == "us"}
    for turn, text in ours:
        if turn.outcome in ("ended", "taken_over", "interrupted", "failed"):
            assert turn.reply == replies[text]  # credited to its own message, all of it
        assert turn.outcome != "lost"
    # Each of our messages started at most once.
    started = [text for owner, text, _ in world.spoken if owner == "us"]
    assert len(started) == len(set(started))


def test_a_chain_start_after_a_transcription_is_foreign_even_while_ours_is_out():
    m = OlvTurns(Mode.PROXY_WS, TIMING)
    m.text_input("ours", 0.0)
    m.receive({"type": "user-input-transcription", "text": "typed"}, 1.0)
    m.receive(control("conversation-chain-start"), 1.0)
    assert m.phase is Phase.QUEUED and m.running is not None and not m.running.ours
    assert m.running.input_text == "typed"
    # The start timer only counts while OLV is idle: a long foreign turn costs nothing.
    assert m.due(1.0 + TIMING.llm_budget) is None
    m.receive(audio("Their answer.", 10), 2.0)
    m.receive(control("conversation-chain-end"), 30.0)
    assert m.phase is Phase.AWAITING_START
    assert m.deadline() == pytest.approx(30.0 + TIMING.start_timeout - 1.0)
    m.receive(control("conversation-chain-start"), 30.1)
    assert m.phase is Phase.IN_TURN and m.running is m.last
    m.receive(audio("Our answer.", 10), 30.2)
    m.receive(control("conversation-chain-end"), 31.0)
    assert m.last is not None and m.last.reply == "Our answer." and m.last.outcome == "ended"


def test_a_voice_turns_own_transcription_announces_nothing():
    """mic-audio-end sends its transcription after its chain-start: once
    that turn ends, the next bare chain-start is ours again."""
    m = OlvTurns(Mode.PROXY_WS, TIMING)
    m.receive(control("conversation-chain-start"), 0.0)
    m.receive({"type": "user-input-transcription", "text": "spoken"}, 0.1)
    m.receive(control("conversation-chain-end"), 1.0)
    m.text_input("ours", 1.1)
    m.receive(control("conversation-chain-start"), 1.2)
    assert m.phase is Phase.IN_TURN


def test_a_barge_in_ends_our_turn_and_the_next_is_foreign():
    m = OlvTurns(Mode.PROXY_WS, TIMING)
    m.text_input("ours", 0.0)
    m.receive(control("conversation-chain-start"), 0.1)
    m.receive(audio("Half of it", 10), 0.2)
    m.receive({"type": "user-input-transcription", "text": "stop that"}, 0.5)
    assert m.phase is Phase.IDLE
    assert m.last is not None and m.last.outcome == "taken_over" and m.last.reply == "Half of it"
    m.receive(control("conversation-chain-start"), 0.6)
    assert m.phase is Phase.FOREIGN


def test_a_dropped_connection_cuts_off_a_turn_unless_it_had_all_played():
    m = OlvTurns(Mode.CLIENT_WS, TIMING)
    m.text_input("one", 0.0)
    m.receive(control("conversation-chain-start"), 0.1)
    m.receive(audio("First.", 50), 0.2)  # plays until 1.2
    m.closed(0.5)
    assert m.last is not None and m.last.outcome == "cut_off"
    m = OlvTurns(Mode.CLIENT_WS, TIMING)
    m.text_input("two", 0.0)
    m.receive(control("conversation-chain-start"), 0.1)
    m.receive(audio("First.", 50), 0.2)
    m.receive({"type": "backend-synth-complete"}, 0.3)
    m.closed(1.5)
    assert m.last is not None and m.last.outcome == "ended"
