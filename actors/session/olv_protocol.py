"""The Open-LLM-VTuber turn protocol, sans I/O: what to send, and when.

OLV (`shared/reference/olv.md`) has traps that break every naive client, and
they are all about *when*:

- A second `text-input` while a turn runs starts a concurrent turn that
  steals the first one's playback waiter: the first never ends. So exactly
  one of ours is ever in flight, and a turn we did not start (the browser
  user typing, in proxy mode) also keeps us waiting.
- After `backend-synth-complete` the server waits, with no timeout, for
  `frontend-playback-complete`, and drops one that arrives before the wait
  began. So in `client-ws` mode we answer after the audio would have played
  and resend until `conversation-chain-end`, never after it. In `proxy-ws`
  mode a browser frontend plays the audio and answers itself: our early
  answer would cut its speech off, so we only step in, as a watchdog, once
  the audio plus a margin has passed (no frontend connected).
- A turn can end in `error` without `conversation-chain-end`, or hang. A
  budget (LLM time + audio + margin) bounds every turn; a hung one gets an
  `interrupt-signal` with what was heard, but only during a turn: sent while
  idle it rewrites the AI's last answer in memory to "...".
- Through `/proxy-ws` every client sees every turn, and the proxy never says
  whose turn it is. It does one thing we can use (reference §3): just before
  it forwards a client's queued `text-input`, it sends a
  `user-input-transcription` copy of it to every *other* client, never to
  the sender. So a `conversation-chain-start` right after a transcription is
  someone else's turn, even while our own text-input is outstanding: ours is
  still in the proxy's queue, behind it (phase QUEUED), and will start
  later without being sent again. A chain-start with no transcription before
  it, while our text-input is out, is ours.

This module holds that logic as a pure state machine over (message, time):
no Trio, no sockets, so Hypothesis can drive it through any interleaving.
The actor in `olv.py` feeds it what the socket reads and does what it says.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from typing import Any

import attrs

from ..validators import at_least, greater_than
from .sentences import join_sentences

PLAYBACK_COMPLETE: dict[str, Any] = {"type": "frontend-playback-complete"}  # never with a request_id
HEARTBEAT: dict[str, Any] = {"type": "heartbeat"}
NEW_HISTORY: dict[str, Any] = {"type": "create-new-history"}
MAX_SENTENCE_AUDIO_S = 600.0  # no sentence speaks longer than this


class Phase(enum.Enum):
    IDLE = "idle"  # nothing of ours out, no turn running: the next message may go
    AWAITING_START = "awaiting_start"  # our input is out and OLV looks idle: the start timer runs
    IN_TURN = "in_turn"  # our turn runs
    FOREIGN = "foreign"  # a turn we did not start runs (proxy: another client typed)
    QUEUED = "queued"  # a foreign turn runs and our input waits behind it in the proxy's queue


class Signal(enum.Enum):
    """What one server message means to the turn, or to us."""

    SENT = "sent"  # not from the server: we sent a text-input or ai-speak-signal
    CHAIN_START = "chain_start"  # with no transcription just before it
    FOREIGN_START = "foreign_start"  # a chain-start right after a user-input-transcription
    CHAIN_END = "chain_end"
    AUDIO = "audio"
    SYNTH_COMPLETE = "synth_complete"
    TRANSCRIPTION = "transcription"  # proxy: another client's text-input is about to start
    ERROR = "error"  # e.g. the LLM failed: the turn still ends normally
    FATAL_ERROR = "fatal_error"  # "Conversation error: ...": the turn ends with no chain-end
    INTERRUPTED = "interrupted"  # not from the server: we sent interrupt-signal
    LOST = "lost"  # not from the server: no chain-start within start_timeout of idle OLV
    OTHER = "other"  # init, heartbeat-ack, full-text, replies we do not need


# The phase table, as in h11: (phase, signal) -> next phase. A pair that is
# not here leaves the phase alone: a stale chain-end, audio while idle, an
# error that is not about a turn. What each signal *does* besides moving the
# phase (audio adds to what was heard, the start timer pauses) is in
# OlvTurns.receive.
TRANSITIONS: Mapping[tuple[Phase, Signal], Phase] = {
    (Phase.IDLE, Signal.SENT): Phase.AWAITING_START,
    (Phase.IDLE, Signal.CHAIN_START): Phase.FOREIGN,
    (Phase.IDLE, Signal.FOREIGN_START): Phase.FOREIGN,
    (Phase.AWAITING_START, Signal.CHAIN_START): Phase.IN_TURN,
    # Another client's turn went first: ours stays queued in the proxy.
    (Phase.AWAITING_START, Signal.FOREIGN_START): Phase.QUEUED,
    (Phase.AWAITING_START, Signal.LOST): Phase.IDLE,
    (Phase.IN_TURN, Signal.CHAIN_END): Phase.IDLE,
    (Phase.IN_TURN, Signal.FATAL_ERROR): Phase.IDLE,
    (Phase.IN_TURN, Signal.INTERRUPTED): Phase.IDLE,
    # The proxy only forwards the next client's text while idle, so during
    # our turn a transcription means that client interrupted it first (the
    # browser does so when its user types mid-answer): OLV cancelled our
    # turn silently, no chain-end will come for it.
    (Phase.IN_TURN, Signal.TRANSCRIPTION): Phase.IDLE,
    (Phase.IN_TURN, Signal.FOREIGN_START): Phase.FOREIGN,
    (Phase.FOREIGN, Signal.CHAIN_END): Phase.IDLE,
    (Phase.FOREIGN, Signal.FATAL_ERROR): Phase.IDLE,
    (Phase.FOREIGN, Signal.INTERRUPTED): Phase.IDLE,
    (Phase.QUEUED, Signal.CHAIN_END): Phase.AWAITING_START,
    (Phase.QUEUED, Signal.FATAL_ERROR): Phase.AWAITING_START,
    (Phase.QUEUED, Signal.INTERRUPTED): Phase.AWAITING_START,
    # The foreign turn was interrupted by its client and the proxy forwarded
    # ours next: it comes with no transcription to us.
    (Phase.QUEUED, Signal.CHAIN_START): Phase.IN_TURN,
}

TURN_PHASES = frozenset({Phase.IN_TURN, Phase.FOREIGN, Phase.QUEUED})  # where a turn runs on the server
OURS_OUT = frozenset({Phase.AWAITING_START, Phase.IN_TURN, Phase.QUEUED})  # our input is out


def next_phase(phase: Phase, signal: Signal) -> Phase:
    return TRANSITIONS.get((phase, signal), phase)


class Mode(enum.Enum):
    CLIENT_WS = "client-ws"  # headless: we release each turn ourselves
    PROXY_WS = "proxy-ws"  # a browser frontend plays the audio and releases it


@attrs.frozen
class Timing:
    """Every wait of the protocol, in seconds ([session.olv] in config.toml)."""

    start_timeout: float = attrs.field(default=5.0, validator=greater_than(0))  # idle OLV -> our chain-start
    llm_budget: float = attrs.field(default=60.0, validator=greater_than(0))  # chain-start -> chain-end, less audio
    turn_margin: float = attrs.field(default=10.0, validator=at_least(0))  # on top of llm_budget + audio
    resend_every: float = attrs.field(default=1.5, validator=greater_than(0))  # playback-complete again
    watchdog_margin: float = attrs.field(default=8.0, validator=at_least(0))  # proxy: audio + this, then we answer


@attrs.frozen
class Heard:
    """One audio message: a sentence the audience heard (or would have)."""

    text: str
    audio_s: float  # len(volumes) * slice_length


def classify(message: Mapping[str, Any]) -> tuple[Signal, Heard | str | None]:
    """A parsed server message -> (signal, its payload). Pure and total: a
    message of an unexpected shape is OTHER, never an exception. A
    chain-start is CHAIN_START here; only OlvTurns knows whether a
    transcription came just before it."""
    kind = message.get("type")
    if kind == "control":
        text = message.get("text")
        if text == "conversation-chain-start":
            return Signal.CHAIN_START, None
        if text == "conversation-chain-end":
            return Signal.CHAIN_END, None
        return Signal.OTHER, None
    if kind == "audio":
        return Signal.AUDIO, _heard(message)
    if kind == "backend-synth-complete":
        return Signal.SYNTH_COMPLETE, None
    if kind == "user-input-transcription":
        text = message.get("text")
        return Signal.TRANSCRIPTION, text if isinstance(text, str) else ""
    if kind == "error":
        text = message.get("message")
        text = text if isinstance(text, str) else json.dumps(text)
        # OLV's two error paths (reference §2.4): the agent's error is
        # reported and the turn still finishes; any other one ends the turn
        # with no chain-end.
        return (Signal.FATAL_ERROR if text.startswith("Conversation error") else Signal.ERROR), text
    return Signal.OTHER, None


def _heard(message: Mapping[str, Any]) -> Heard:
    display = message.get("display_text")
    text = display.get("text") if isinstance(display, Mapping) else None
    volumes = message.get("volumes")
    slice_ms = message.get("slice_length")
    slices = len(volumes) if isinstance(volumes, list) else 0
    ms = slice_ms if isinstance(slice_ms, int | float) and not isinstance(slice_ms, bool) else 20
    audio_s = slices * ms / 1000 if math.isfinite(ms) and ms > 0 else 0.0
    # A garbled slice_length must not stretch the turn budget without end.
    return Heard(text if isinstance(text, str) else "", min(audio_s, MAX_SENTENCE_AUDIO_S))


class Due(enum.Enum):
    """What the actor must do now."""

    PLAYBACK_COMPLETE = "playback_complete"  # send frontend-playback-complete
    INTERRUPT = "interrupt"  # send interrupt-signal with the heard text, then the turn is over
    LOST = "lost"  # our message did not start while OLV was idle (see OlvTurns.due)


@attrs.define
class Turn:
    """What we learnt of one turn: ours, or a foreign one."""

    ours: bool
    sent_at: float | None  # when our input went; None for a foreign turn
    started_at: float | None = None  # chain-start
    ended_at: float | None = None
    heard: list[str] = attrs.field(factory=list)
    audio_s: float = 0.0
    playback_end: float = 0.0  # when the audio heard so far has played out
    synth_completes: int = 0
    playback_due: float = math.inf  # the next frontend-playback-complete we owe
    playback_sent: int = 0
    errors: list[str] = attrs.field(factory=list)
    # running | ended | interrupted | failed | lost | cut_off | taken_over
    outcome: str = "running"
    unblock: bool = False  # proxy: failed without chain-end, an interrupt must reopen the queue
    # Ours, not started yet: OLV-idle time waited so far, and since when it counts.
    waited: float = 0.0
    idle_since: float | None = None
    # Foreign: the transcription's text, which names the input it answers.
    input_text: str | None = None

    @property
    def reply(self) -> str:
        """What the AI said: the display texts, spaced as the language writes
        (`sentences.join_sentences`); also the heard text of an interrupt."""
        return join_sentences(self.heard)

    @property
    def audio_done(self) -> bool:
        """Every sentence was synthesised (synth-complete came)."""
        return self.synth_completes > 0


class OlvTurns:
    """The client's side of OLV turns. Feed it what arrives (`receive`) and
    the clock (`due`); it says what to send. One instance per connection:
    a new connection is a new OLV session (or proxy client) with no turn of
    ours in it."""

    def __init__(self, mode: Mode, timing: Timing) -> None:
        self.mode = mode
        self.timing = timing
        self.phase = Phase.IDLE
        self.mine: Turn | None = None  # our turn, from our send until it is over
        self.running: Turn | None = None  # the turn running on the server (ours or not)
        self.last: Turn | None = None  # our latest turn, kept after it is over
        self.last_reply = ""  # the last complete answer (for an interrupt with nothing heard)
        # A transcription came and no chain-start yet: the next one is
        # foreign, and this is the text it answers.
        self._foreign_next: str | None = None
        # The turn that was running, still silent, when that transcription
        # came: a voice turn (mic-audio-end) sends its own transcription
        # *after* its chain-start, so if this turn then simply ends, the
        # transcription was its own and announces nothing. One that came
        # after the turn's audio is the next client's, which can overtake
        # this turn's chain-end on its way to us: it stays.
        self._asr_of: Turn | None = None
        # Foreign turns as they start, for the actor to drain (`started_foreign`):
        # one may answer an input of ours from an earlier connection.
        self._foreign_started: list[Turn] = []
        self._unseen_end = 0.0  # when the audio of a turn we joined late plays out

    @property
    def turn(self) -> Turn | None:
        """The turn that matters now: the running one, else ours waiting to start."""
        return self.running if self.running is not None else self.mine

    # ---- what we send ----------------------------------------------------------------------

    def text_input(self, text: str, now: float) -> dict[str, Any]:
        """Our next message; only while idle (exactly one in flight)."""
        self._start_ours(now)
        return {"type": "text-input", "text": text, "images": []}

    def speak_signal(self, now: float) -> dict[str, Any]:
        """An idle-banter turn: OLV's proactive speech."""
        self._start_ours(now)
        return {"type": "ai-speak-signal"}

    def interrupt(self, now: float) -> dict[str, Any]:
        """Only during a turn: the heard text keeps the AI's memory true."""
        turn = self.running
        if self.phase not in TURN_PHASES or turn is None:
            raise RuntimeError(f"interrupt-signal while {self.phase.value} would rewrite the AI's memory")
        # Nothing heard (an error before any audio): the last full answer,
        # so OLV's rewrite of memory to text + "..." loses little.
        text = turn.reply or self.last_reply
        if not turn.unblock:
            turn.outcome = "interrupted"
        turn.unblock = False
        if turn.ended_at is None:
            turn.ended_at = now
        self._end_running(Signal.INTERRUPTED, now)
        return {"type": "interrupt-signal", "text": text}

    def _start_ours(self, now: float) -> None:
        if self.phase is not Phase.IDLE:
            raise RuntimeError(f"a second message while {self.phase.value}: OLV would run two turns at once")
        self.mine = self.last = Turn(ours=True, sent_at=now, idle_since=now)
        self._move(Signal.SENT)

    # ---- what arrives ------------------------------------------------------------------------

    def receive(self, message: Mapping[str, Any], now: float) -> Signal:
        signal, payload = classify(message)
        if signal is Signal.CHAIN_START:
            if self._foreign_next is not None:
                signal = Signal.FOREIGN_START
            self._chain_start(signal, now)
            return signal
        if signal is Signal.TRANSCRIPTION:
            assert isinstance(payload, str)
            self._foreign_next = payload
            running = self.running
            self._asr_of = running if running is not None and not running.heard else None
            if self.phase is Phase.IN_TURN:
                turn = self.running
                assert turn is not None
                turn.outcome = "taken_over"
                turn.ended_at = now
                self._end_running(signal, now)
                return signal
        self._late_joined(signal, payload, now)
        turn = self.running
        if turn is not None and self.phase in TURN_PHASES:
            if signal is Signal.AUDIO:
                assert isinstance(payload, Heard)
                turn.heard.append(payload.text)
                turn.audio_s += payload.audio_s
                # Audio plays in order, each sentence once the previous one is done.
                turn.playback_end = max(turn.playback_end, now) + payload.audio_s
            elif signal is Signal.SYNTH_COMPLETE:
                turn.synth_completes += 1
                wait = 0.0 if self.mode is Mode.CLIENT_WS else self.timing.watchdog_margin
                turn.playback_due = min(turn.playback_due, max(turn.playback_end, now) + wait)
            elif signal in (Signal.ERROR, Signal.FATAL_ERROR):
                assert isinstance(payload, str)
                turn.errors.append(payload)
            if signal is Signal.CHAIN_END:
                if self._asr_of is turn:
                    self._foreign_next = self._asr_of = None
                turn.ended_at = now
                turn.outcome = "ended"
                self.last_reply = turn.reply or self.last_reply
                self._end_running(signal, now)
            elif signal is Signal.FATAL_ERROR:
                turn.ended_at = now
                turn.outcome = "failed"
                if self.mode is Mode.PROXY_WS:
                    # The proxy's queue stays shut until a chain-end that will
                    # not come, or an interrupt: the turn is over for OLV but
                    # not for the proxy, so it stays a turn until we send one.
                    # Foreign turns too: our next message waits behind it.
                    turn.unblock = True
                else:
                    self._end_running(signal, now)
        elif signal is Signal.CHAIN_END and self._asr_of is not None:
            # The end of a voice turn we had taken for ours (see _asr_of).
            self._foreign_next = self._asr_of = None
        return signal

    def _late_joined(self, signal: Signal, payload: Heard | str | None, now: float) -> None:
        mine = self.mine
        if not (self.phase is Phase.AWAITING_START and mine is not None and mine.idle_since is not None):
            return
        # A turn whose chain-start came before we connected (a proxy
        # client joins mid-turn) still keeps OLV busy: its audio plays,
        # then the frontend answers. Our start timer waits it out.
        if signal is Signal.AUDIO:
            assert isinstance(payload, Heard)
            self._unseen_end = max(self._unseen_end, now) + payload.audio_s
        if signal in (Signal.AUDIO, Signal.SYNTH_COMPLETE, Signal.CHAIN_END):
            margin = self.timing.watchdog_margin if self.mode is Mode.PROXY_WS else 0.0
            busy_until = now if signal is Signal.CHAIN_END else max(self._unseen_end, now) + margin
            mine.idle_since = max(mine.idle_since, busy_until)

    def _chain_start(self, signal: Signal, now: float) -> None:
        foreign_text, self._foreign_next, self._asr_of = self._foreign_next, None, None
        before = self.phase
        old = self.running
        if before is Phase.IN_TURN and signal is Signal.CHAIN_START:
            # A new turn began inside ours with nothing to say it is someone
            # else's (a chain-end we missed). Whatever playback we owed
            # belonged to the old one, and an answer now would release the
            # new turn early.
            assert old is not None
            old.playback_due = math.inf
            old.synth_completes = 0
            return
        if old is not None and old.outcome == "running":
            old.outcome = "taken_over"  # interrupted by its client: no chain-end will come
            old.ended_at = now
        after = next_phase(before, signal)
        if before is Phase.IN_TURN:
            self.mine = None
        if after is Phase.IN_TURN:
            assert self.mine is not None
            self.running = self.mine
        else:
            self.running = Turn(ours=False, sent_at=None, input_text=foreign_text)
            self._foreign_started.append(self.running)
        self.running.started_at = now
        if after is Phase.QUEUED:
            self._pause_start_timer(now)
        self.phase = after

    def _end_running(self, signal: Signal, now: float) -> None:
        before = self.phase
        self._move(signal)
        self.running = None
        if before is Phase.IN_TURN:
            self.mine = None
        elif before is Phase.QUEUED:
            assert self.mine is not None
            self.mine.idle_since = now  # OLV is idle again: our start timer goes on

    def _pause_start_timer(self, now: float) -> None:
        mine = self.mine
        assert mine is not None
        if mine.idle_since is not None:
            mine.waited += max(0.0, now - mine.idle_since)
            mine.idle_since = None

    def started_foreign(self) -> list[Turn]:
        """The foreign turns that started since the last call."""
        started, self._foreign_started = self._foreign_started, []
        return started

    def closed(self, now: float) -> None:
        """The connection is gone, and with it every turn on it, as far as we
        can tell: ours is `cut_off` if the audience cannot have heard all of
        it yet, `ended` if every sentence had come and played out (only the
        chain-end is missing). Ours that never started is left `running`:
        whether it may still start is the actor's question (proxy queue)."""
        for turn in (self.running, self.mine):
            if turn is None or turn.outcome != "running" or turn.started_at is None:
                continue
            turn.outcome = "ended" if turn.audio_done and now >= turn.playback_end else "cut_off"
            turn.ended_at = now

    # ---- the clock ---------------------------------------------------------------------------

    def deadline(self) -> float:
        """The next moment `due` may have something to do (inf: nothing until a message)."""
        if self.phase is Phase.AWAITING_START:
            return self._start_deadline()
        turn = self.running
        if self.phase in TURN_PHASES and turn is not None:
            return -math.inf if turn.unblock else min(turn.playback_due, self._budget_end(turn))
        return math.inf

    def due(self, now: float) -> Due | None:
        """What is due at `now`, at most one thing; call again after doing it."""
        if self.phase is Phase.AWAITING_START:
            if now >= self._start_deadline():
                # Our input did not start although OLV (or the proxy) had
                # nothing else to do for start_timeout. What that means, and
                # what may be done about it, depends on the mode: see
                # OlvSession._lost in olv.py. The machine only says so.
                mine = self.mine
                assert mine is not None
                mine.outcome = "lost"
                self._move(Signal.LOST)
                self.mine = None
                return Due.LOST
            return None
        turn = self.running
        if self.phase not in TURN_PHASES or turn is None:
            return None
        if turn.unblock or now >= self._budget_end(turn):
            return Due.INTERRUPT
        if now >= turn.playback_due:
            turn.playback_sent += 1
            turn.playback_due = now + self.timing.resend_every  # until chain-end, never after
            return Due.PLAYBACK_COMPLETE
        return None

    def _start_deadline(self) -> float:
        mine = self.mine
        assert mine is not None and mine.idle_since is not None
        return mine.idle_since + self.timing.start_timeout - mine.waited

    def _budget_end(self, turn: Turn) -> float:
        started = turn.started_at if turn.started_at is not None else turn.sent_at
        assert started is not None
        t = self.timing
        return started + t.llm_budget + turn.audio_s + t.turn_margin

    def _move(self, signal: Signal) -> None:
        self.phase = next_phase(self.phase, signal)
