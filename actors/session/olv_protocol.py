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

PLAYBACK_COMPLETE: dict[str, Any] = {"type": "frontend-playback-complete"}  # never with a request_id
HEARTBEAT: dict[str, Any] = {"type": "heartbeat"}
NEW_HISTORY: dict[str, Any] = {"type": "create-new-history"}
MAX_SENTENCE_AUDIO_S = 600.0  # no sentence speaks longer than this


class Phase(enum.Enum):
    IDLE = "idle"  # nothing in flight: the next message may go
    AWAITING_START = "awaiting_start"  # our text-input is out, no conversation-chain-start yet
    IN_TURN = "in_turn"  # our turn runs
    FOREIGN = "foreign"  # a turn we did not start runs (proxy: the frontend user typed)


class Signal(enum.Enum):
    """What one server message means to the turn, or to us."""

    SENT = "sent"  # not from the server: we sent a text-input or ai-speak-signal
    CHAIN_START = "chain_start"
    CHAIN_END = "chain_end"
    AUDIO = "audio"
    SYNTH_COMPLETE = "synth_complete"
    ERROR = "error"  # e.g. the LLM failed: the turn still ends normally
    FATAL_ERROR = "fatal_error"  # "Conversation error: ...": the turn ends with no chain-end
    INTERRUPTED = "interrupted"  # not from the server: we sent interrupt-signal
    LOST = "lost"  # not from the server: no chain-start within start_timeout
    OTHER = "other"  # init, heartbeat-ack, full-text, replies we do not need


# The phase table, as in h11: (phase, signal) -> next phase. A pair that is
# not here leaves the phase alone: a stale chain-end, audio while idle, an
# error that is not about a turn. What each signal *does* besides moving the
# phase (audio adds to what was heard) is in OlvTurns.receive.
TRANSITIONS: Mapping[tuple[Phase, Signal], Phase] = {
    (Phase.IDLE, Signal.SENT): Phase.AWAITING_START,
    (Phase.IDLE, Signal.CHAIN_START): Phase.FOREIGN,
    (Phase.AWAITING_START, Signal.CHAIN_START): Phase.IN_TURN,
    (Phase.AWAITING_START, Signal.LOST): Phase.IDLE,
    (Phase.IN_TURN, Signal.CHAIN_END): Phase.IDLE,
    (Phase.IN_TURN, Signal.FATAL_ERROR): Phase.IDLE,
    (Phase.IN_TURN, Signal.INTERRUPTED): Phase.IDLE,
    (Phase.FOREIGN, Signal.CHAIN_END): Phase.IDLE,
    (Phase.FOREIGN, Signal.FATAL_ERROR): Phase.IDLE,
    (Phase.FOREIGN, Signal.INTERRUPTED): Phase.IDLE,
}

TURN_PHASES = frozenset({Phase.IN_TURN, Phase.FOREIGN})  # where a turn runs on the server


def next_phase(phase: Phase, signal: Signal) -> Phase:
    return TRANSITIONS.get((phase, signal), phase)


class Mode(enum.Enum):
    CLIENT_WS = "client-ws"  # headless: we release each turn ourselves
    PROXY_WS = "proxy-ws"  # a browser frontend plays the audio and releases it


@attrs.frozen
class Timing:
    """Every wait of the protocol, in seconds ([session.olv] in config.toml)."""

    start_timeout: float = attrs.field(default=5.0, validator=greater_than(0))  # text-input -> chain-start
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
    message of an unexpected shape is OTHER, never an exception."""
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
    LOST = "lost"  # our message never started: hand it back, reconnect


@attrs.define
class Turn:
    """What we learnt of the turn in progress (ours, or a foreign one)."""

    ours: bool
    sent_at: float | None  # when our text-input went; None for a foreign turn
    started_at: float | None = None  # chain-start
    ended_at: float | None = None
    heard: list[str] = attrs.field(factory=list)
    audio_s: float = 0.0
    playback_end: float = 0.0  # when the audio heard so far has played out
    synth_completes: int = 0
    playback_due: float = math.inf  # the next frontend-playback-complete we owe
    playback_sent: int = 0
    errors: list[str] = attrs.field(factory=list)
    outcome: str = "running"  # ended | interrupted | failed | lost | cut_off
    unblock: bool = False  # proxy: failed without chain-end, an interrupt must reopen the queue

    @property
    def reply(self) -> str:
        """What the AI said: OLV's own reply text is the display texts joined."""
        return "".join(self.heard)


class OlvTurns:
    """The client's side of OLV turns. Feed it what arrives (`receive`) and
    the clock (`due`); it says what to send. One instance per connection:
    a new connection is a new OLV session with no turn of ours in it."""

    def __init__(self, mode: Mode, timing: Timing) -> None:
        self.mode = mode
        self.timing = timing
        self.phase = Phase.IDLE
        self.turn: Turn | None = None  # the current or last turn
        self.last_reply = ""  # the last complete answer (for an interrupt with nothing heard)

    # ---- what we send ----------------------------------------------------------------------

    def text_input(self, text: str, now: float) -> dict[str, Any]:
        """Our next message; only while idle (exactly one in flight)."""
        self._start_ours(now)
        return {"type": "text-input", "text": text, "images": []}

    def speak_signal(self, now: float) -> dict[str, Any]:
        """An idle-banter turn: OLV's proactive speech."""
        self._start_ours(now)
        return {"type": "ai-speak-signal"}

    def interrupt(self) -> dict[str, Any]:
        """Only during a turn: the heard text keeps the AI's memory true."""
        if self.phase not in TURN_PHASES:
            raise RuntimeError(f"interrupt-signal while {self.phase.value} would rewrite the AI's memory")
        turn = self.turn
        assert turn is not None
        # Nothing heard (an error before any audio): the last full answer,
        # so OLV's rewrite of memory to text + "..." loses little.
        text = turn.reply or self.last_reply
        self._move(Signal.INTERRUPTED)
        if not turn.unblock:
            turn.outcome = "interrupted"
        turn.unblock = False
        return {"type": "interrupt-signal", "text": text}

    def _start_ours(self, now: float) -> None:
        if self.phase is not Phase.IDLE:
            raise RuntimeError(f"a second message while {self.phase.value}: OLV would run two turns at once")
        self.turn = Turn(ours=True, sent_at=now)
        self._move(Signal.SENT)

    # ---- what arrives ------------------------------------------------------------------------

    def receive(self, message: Mapping[str, Any], now: float) -> Signal:
        signal, payload = classify(message)
        if signal is Signal.CHAIN_START:
            if self.phase is Phase.IDLE:
                self.turn = Turn(ours=False, sent_at=None)
            if self.phase in (Phase.IDLE, Phase.AWAITING_START):
                assert self.turn is not None
                self.turn.started_at = now
            else:
                # A new turn began inside this one (we missed a chain-end):
                # whatever playback we owed belonged to the old one, and an
                # answer now would release the new turn early.
                assert self.turn is not None
                self.turn.playback_due = math.inf
                self.turn.synth_completes = 0
        elif self.phase in TURN_PHASES:
            turn = self.turn
            assert turn is not None
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
            elif signal is Signal.CHAIN_END:
                turn.ended_at = now
                turn.outcome = "ended"
                self.last_reply = turn.reply or self.last_reply
            if signal is Signal.FATAL_ERROR:
                turn.ended_at = now
                turn.outcome = "failed"
                if self.mode is Mode.PROXY_WS:
                    # The proxy's queue stays shut until a chain-end that will
                    # not come, or an interrupt: the turn is over for OLV but
                    # not for the proxy, so it stays a turn until we send one.
                    turn.unblock = True
                    return signal
        self._move(signal)
        return signal

    # ---- the clock ---------------------------------------------------------------------------

    def deadline(self) -> float:
        """The next moment `due` may have something to do (inf: nothing until a message)."""
        turn = self.turn
        if turn is None:
            return math.inf
        if self.phase is Phase.AWAITING_START:
            assert turn.sent_at is not None
            return turn.sent_at + self.timing.start_timeout
        if self.phase in TURN_PHASES:
            return -math.inf if turn.unblock else min(turn.playback_due, self._budget_end(turn))
        return math.inf

    def due(self, now: float) -> Due | None:
        """What is due at `now`, at most one thing; call again after doing it."""
        turn = self.turn
        if turn is None:
            return None
        if self.phase is Phase.AWAITING_START:
            assert turn.sent_at is not None
            if now >= turn.sent_at + self.timing.start_timeout:
                turn.outcome = "lost"
                self._move(Signal.LOST)
                return Due.LOST
            return None
        if self.phase not in TURN_PHASES:
            return None
        if turn.unblock or now >= self._budget_end(turn):
            return Due.INTERRUPT
        if now >= turn.playback_due:
            turn.playback_sent += 1
            turn.playback_due = now + self.timing.resend_every  # until chain-end, never after
            return Due.PLAYBACK_COMPLETE
        return None

    def _budget_end(self, turn: Turn) -> float:
        started = turn.started_at if turn.started_at is not None else turn.sent_at
        assert started is not None
        t = self.timing
        return started + t.llm_budget + turn.audio_s + t.turn_margin

    def _move(self, signal: Signal) -> None:
        self.phase = next_phase(self.phase, signal)
