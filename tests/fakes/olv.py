"""A faithful fake of the Open-LLM-VTuber (OLV) WebSocket server, for tests.

It follows the OLV reference notes (shared/reference/olv.md), sections 2, 3 and 8, including the
traps a client must survive: the one-shot playback waiter that only exists
after the second ``backend-synth-complete``, overlapping turns that leave the
first one hanging forever, interrupts that rewrite the shared LLM memory even
when no turn is running, error turns without ``conversation-chain-end``, and
the proxy's FIFO that stays blocked until it sees a chain-end or an interrupt.

Tests use it in a nursery::

    fake = FakeOlv()
    port = await nursery.start(fake.serve)
    async with open_websocket_url(fake.url(), max_message_size=64 * 2**20) as ws: ...

It also runs on its own, so the service can be tried without a real OLV::

    python tests/fakes/olv.py --port 12393 [--proxy]
"""

from __future__ import annotations

import argparse
import base64
import enum
import io
import json
import math
import re
import struct
import sys
import uuid
import wave
from collections import deque
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import trio
from trio_websocket import (
    ConnectionClosed,
    Endpoint,
    HandshakeError,
    WebSocketConnection,
    WebSocketRequest,
    open_websocket_url,
    serve_websocket,
)

if not __package__:  # run as a script: tests/fakes/ is on sys.path, and fakes._http needs tests/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fakes._http import stop_on_signal

# uvicorn refuses client->server messages above 16 MiB (§1).
SERVER_MAX_MESSAGE_SIZE = 16 * 2**20
# The real proxy reads upstream with aiohttp, whose ws_connect default max_msg_size is 4 MiB.
PROXY_UPSTREAM_MAX_MESSAGE_SIZE = 4 * 2**20
# Marks the proxy's own upstream connection, so that it is counted apart from real clients.
UPSTREAM_HEADER = b"x-fake-olv-proxy-upstream"

CONF_NAME = "mao_pro"
CONF_UID = "mao_pro_001"
CHARACTER_NAME = "Mao"
AVATAR = "mao.png"
EMOTION_MAP = {
    "neutral": 0,
    "anger": 2,
    "disgust": 2,
    "fear": 1,
    "joy": 3,
    "smirk": 3,
    "sadness": 1,
    "surprise": 3,
}
# The mao_pro entry of OLV's model_dict.json.
MODEL_INFO: dict[str, Any] = {
    "name": "mao_pro",
    "description": "",
    "url": "/live2d-models/mao_pro/runtime/mao_pro.model3.json",
    "kScale": 0.5,
    "initialXshift": 0,
    "initialYshift": 0,
    "kXOffset": 1150,
    "idleMotionGroupName": "Idle",
    "emotionMap": EMOTION_MAP,
    "tapMotions": {"HitAreaHead": {"": 1}, "HitAreaBody": {"": 1}},
}
CONFIG_FILES = [{"filename": "conf.yaml", "name": CONF_NAME}]
BACKGROUND_FILES = ["ceiling-window-room-night.jpeg", "cityscape.jpeg", "lernado-diffusion-night.jpeg"]
IMAGE_SOURCES = frozenset({"camera", "screen", "clipboard", "upload"})
SLICE_LENGTH_MS = 20
# What Fault.NO_TTS makes the LLM say: display text with nothing a TTS engine would speak.
NO_TTS_SENTENCES = ["[neutral] ..."]

# TTS never speaks bracketed, parenthesised or tagged text, nor asterisks (tts_filter) ...
_UNSPOKEN_MARKUP = re.compile(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>|\*")
# ... and tts_manager sends a silent payload, with no TTS task, when only these are left.
_UNSPOKEN_CHARS = re.compile(r"[\s.,!?，。！？'\"』」）】]+")
_EMOTION_TAG = re.compile(r"\[(\w+)\]")


class Fault(enum.Enum):
    """What goes wrong in a turn. `FakeOlv.faults` is a FIFO: each new turn takes the first."""

    LLM_ERROR = "llm_error"
    FATAL_ERROR = "fatal_error"
    SLOW_START = "slow_start"
    HUGE_AUDIO = "huge_audio"
    CLOSE_MID_TURN = "close_mid_turn"
    NO_TTS = "no_tts"
    WEDGE = "wedge"
    # OLV crashes right after the first sentence's audio: every connection drops with no
    # close frame, nothing listens for `Script.crash_down_for` seconds, then a fresh server.
    CRASH = "crash"


@attrs.define
class Script:
    """What the fake LLM says and how fast. Shared by every turn; tests may change it between turns."""

    sentences: list[str] = attrs.field(factory=lambda: ["[joy] Hello there!", "Nice to meet you."])
    volumes: int = 10  # slices per sentence, 20 ms each
    llm_delay: float = 0.02  # between "Thinking..." and the first audio
    sentence_delay: float = 0.005
    slow_start: float = 3.0  # Fault.SLOW_START: delay before chain-start
    # §2.7: a second turn's playback waiter replaces the first's, so the first hangs forever.
    # With False, waiters queue up and each frontend-playback-complete releases the oldest.
    overwrite_waiter: bool = True
    transcription: str = "Hello from the microphone."  # what the fake ASR hears on mic-audio-end
    # The first sentence repeats the input, so a test can tell which input a reply answers.
    echo: bool = False
    crash_down_for: float = 1.0  # Fault.CRASH: seconds with nothing listening


@attrs.define
class TurnRecord:
    client_uid: str
    kind: str  # "text-input" | "ai-speak-signal" | "mic-audio-end"
    text: str | None  # what went to the LLM; None for ai-speak-signal (its prompt is internal)
    fault: Fault | None
    started_at: float  # trio.current_time() at chain-start, or at receipt if it never started
    ended_at: float | None = None  # when chain-end was sent
    outcome: str = "running"  # "running" | "ended" | "interrupted" | "fatal" | "disconnected" | "crashed"
    reply: str = ""  # concatenated display_text.text sent so far


@attrs.define(eq=False)
class _Turn:
    record: TurnRecord
    images: Any
    # Made before the task runs: an interrupt may arrive before the task's first line.
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    done: bool = False


@attrs.define(eq=False)
class _Session:
    """One /client-ws connection, with the per-client state OLV keeps for it."""

    ws: WebSocketConnection
    upstream: bool  # the proxy's own connection
    client_uid: str = attrs.field(factory=lambda: str(uuid.uuid4()))
    nursery: trio.Nursery | None = None
    # current_conversation_tasks[client_uid]: the latest turn, kept after it ends.
    current: _Turn | None = None
    running: set[_Turn] = attrs.field(factory=set)
    # message_handler's slot for ("frontend-playback-complete", None); a deque only so that
    # Script.overwrite_waiter=False can queue waiters instead of replacing them.
    waiters: deque[trio.Event] = attrs.field(factory=deque)
    history_uid: str | None = None
    mic_samples: int = 0


@attrs.define(eq=False)
class _Proxy:
    """ProxyHandler + ProxyMessageQueue state."""

    clients: dict[str, WebSocketConnection] = attrs.field(factory=dict)
    upstream: WebSocketConnection | None = None
    upstream_scope: trio.CancelScope | None = None
    queue: deque[tuple[dict[str, Any], str]] = attrs.field(factory=deque)
    conversation_active: bool = False
    # ProxyHandler._running: disconnect() clears it and nothing sets it again, so after the
    # last client has left once, the heartbeat loop never runs again (a real OLV bug, §3).
    heartbeat_running: bool = True
    lock: trio.Lock = attrs.field(factory=trio.Lock)


class FakeOlv:
    """The fake server, and what it saw, for assertions.

    Note for tests: a client that answers *both* backend-synth-complete messages (as the
    real frontend does) normally releases the waiter with the first answer. The second then
    finds no waiter, so `late_playback_completes` grows by one in a healthy turn. A correct
    client keeps `overlaps` and `idle_interrupts` at 0.
    """

    def __init__(self, script: Script | None = None, *, enable_proxy: bool = False) -> None:
        self.script = script if script is not None else Script()
        self.enable_proxy = enable_proxy
        self.faults: list[Fault | None] = []
        self.turns: list[TurnRecord] = []
        self.overlaps = 0
        self.interrupts: list[tuple[str, bool]] = []
        self.idle_interrupts = 0
        self.playback_completes: list[tuple[float, bool]] = []
        self.late_playback_completes = 0
        self.messages_received: list[dict[str, Any]] = []
        self.memory: list[tuple[str, str]] = []
        self.connections = 0
        self.history_resets = 0
        # Proxy side (§3).
        self.proxy_connections = 0
        self.proxy_upstream_connections = 0
        self.proxy_interrupts: list[tuple[str, bool]] = []
        self.proxy_idle_interrupts = 0
        self.proxy_messages_received: list[dict[str, Any]] = []
        self.proxy_heartbeat_interval = 30.0
        # A proxy that looks idle but does not forward what it queued (while True), as when its
        # conversation_active flag is stuck; `proxy_forget_queue` loses what it holds.
        self.proxy_paused = False
        # Restarts (`restart`, Fault.CRASH): when the server went down and came up again, and when
        # each client connection (not the proxy's own upstream) was accepted, with its route.
        self.down_at: list[float] = []
        self.up_at: list[float] = []
        self.accepted: list[tuple[float, str]] = []

        # The shared agent's flag: only the first interrupt after each chat() touches memory.
        self._interrupt_handled = False
        self._histories: dict[str, list[dict[str, Any]]] = {}
        self._sessions: set[_Session] = set()
        self._proxy = _Proxy()
        self._host = "127.0.0.1"
        self._port: int | None = None
        self._nursery: trio.Nursery | None = None
        self._life: trio.CancelScope | None = None  # one run of the server, between restarts
        self._down_for = 0.0

    # ------------------------------------------------------------------ serving

    async def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve /client-ws (and /proxy-ws when enable_proxy) until cancelled; task_status.started(the bound port).
        After a `restart` it serves again on the same port, as a fresh process would."""
        first = True
        while True:
            with trio.CancelScope() as life:
                self._life = life
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    server = await nursery.start(
                        partial(
                            serve_websocket,
                            self._handle_request,
                            host,
                            port,
                            None,
                            max_message_size=SERVER_MAX_MESSAGE_SIZE,
                            # Don't let a client that never answers a close keep a handler alive for a minute.
                            disconnect_timeout=5,
                        )
                    )
                    endpoint = server.listeners[0]
                    assert isinstance(endpoint, Endpoint)
                    self._host, self._port = host, endpoint.port
                    port = endpoint.port  # a restart comes back on the same port
                    if self.enable_proxy:
                        nursery.start_soon(self._proxy_consume)
                    self.up_at.append(trio.current_time())
                    if first:
                        task_status.started(self._port)
                        first = False
            # Down: a crashed process keeps nothing, the proxy's queue included.
            self._life = self._nursery = None
            self._sessions = set()
            self._proxy = _Proxy()
            self._interrupt_handled = False
            self.down_at.append(trio.current_time())
            await trio.sleep(self._down_for)

    def proxy_forget_queue(self) -> None:
        """The proxy loses the text-inputs it queued (a forward that failed, say)."""
        self._proxy.queue.clear()

    def restart(self, down_for: float) -> None:
        """Crash now (every connection drops, no close frame, the proxy's queue is lost), stay down
        for `down_for` seconds with nothing listening, then serve again on the same port."""
        if self._life is None:
            raise RuntimeError("FakeOlv.restart() while the server is not up")
        self._down_for = down_for
        self._life.cancel()

    def url(self, path: str = "/client-ws") -> str:
        if self._port is None:
            raise RuntimeError("FakeOlv.url() is valid only once serve() has started")
        host = "127.0.0.1" if self._host in ("", "0.0.0.0") else self._host
        if ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{self._port}{path}"

    async def close_all(self) -> None:
        """Close every client connection from the server side (not the proxy's own upstream one)."""
        targets = [s.ws for s in self._sessions if not s.upstream] + list(self._proxy.clients.values())
        async with trio.open_nursery() as nursery:
            for ws in targets:
                nursery.start_soon(_close, ws, 1001, "fake OLV: close_all")

    async def _handle_request(self, request: WebSocketRequest) -> None:
        # Starlette routes on the path alone; a query string does not matter.
        route = urlsplit(request.path).path
        try:
            if route == "/client-ws":
                upstream = any(name.lower() == UPSTREAM_HEADER for name, _ in request.headers)
                await self._serve_client(await request.accept(), upstream=upstream)
            elif route == "/proxy-ws" and self.enable_proxy:
                await self._serve_proxy_client(await request.accept())
            else:
                # Starlette closes an unrouted websocket before accepting; uvicorn answers 403.
                await request.reject(403)
        except ConnectionClosed:
            pass

    # ---------------------------------------------------------------- /client-ws

    async def _serve_client(self, ws: WebSocketConnection, *, upstream: bool) -> None:
        session = _Session(ws=ws, upstream=upstream)
        if upstream:
            self.proxy_upstream_connections += 1
        else:
            self.connections += 1
            self.accepted.append((trio.current_time(), "/client-ws"))
        self._sessions.add(session)
        try:
            async with trio.open_nursery() as nursery:
                session.nursery = nursery
                try:
                    await self._send_init(session)
                    await self._receive_loop(session)
                except ConnectionClosed:
                    pass
                finally:
                    # handle_disconnect: cancel the turns and release the waiter; nothing more is sent.
                    session.waiters.clear()
                    nursery.cancel_scope.cancel()
        finally:
            self._sessions.discard(session)

    async def _send_init(self, session: _Session) -> None:
        await _send(session.ws, _group_update())
        await _send(session.ws, {"type": "full-text", "text": "Connection established"})
        await _send(session.ws, _model_and_conf(session.client_uid))
        await _send(session.ws, _group_update())
        await _send(session.ws, {"type": "control", "text": "start-mic"})

    async def _receive_loop(self, session: _Session) -> None:
        # Like OLV, one message at a time; turns run as background tasks, which is why
        # playback-complete, heartbeat and interrupt-signal are handled during a turn.
        while True:
            raw = await session.ws.get_message()
            if isinstance(raw, bytes):
                # Starlette's receive_json() looks up message["text"]; the handler reports the KeyError.
                await _send(session.ws, {"type": "error", "message": "'text'"})
                continue
            try:
                data = json.loads(raw)
            except ValueError:
                continue  # logged and dropped
            if not isinstance(data, dict):
                # message_handler.handle_message() calls data.get() first.
                message = f"'{type(data).__name__}' object has no attribute 'get'"
                await _send(session.ws, {"type": "error", "message": message})
                continue
            self.messages_received.append(data)
            self._match_waiter(session, data)
            await self._route(session, data)

    def _match_waiter(self, session: _Session, data: dict[str, Any]) -> None:
        """message_handler.handle_message: release a turn waiting on (type, request_id=None)."""
        if data.get("type") != "frontend-playback-complete":
            return
        released = False
        if data.get("request_id") is None and session.waiters:
            session.waiters.popleft().set()
            released = True
        elif not session.waiters:
            self.late_playback_completes += 1
        self.playback_completes.append((trio.current_time(), released))

    async def _route(self, session: _Session, data: dict[str, Any]) -> None:
        kind = data.get("type")
        ws = session.ws
        if kind in ("text-input", "ai-speak-signal", "mic-audio-end"):
            await self._start_turn(session, kind, data)
        elif kind == "interrupt-signal":
            self._interrupt(session, data)
        elif kind == "mic-audio-data":
            session.mic_samples += len(data.get("audio") or [])
        elif kind == "heartbeat":
            await ws.send_message(_compact({"type": "heartbeat-ack"}))  # send_json() in OLV
        elif kind == "request-init-config":
            await _send(ws, _model_and_conf(session.client_uid))
        elif kind == "request-group-info":
            await _send(ws, _group_update())
        elif kind in ("add-client-to-group", "remove-client-from-group"):
            message = "Group mode is not emulated by the fake OLV"
            await _send(ws, {"type": "group-operation-result", "success": False, "message": message})
        elif kind == "fetch-configs":
            await _send(ws, {"type": "config-files", "configs": CONFIG_FILES})
        elif kind == "switch-config":
            await self._switch_config(session, data)
        elif kind == "fetch-backgrounds":
            await _send(ws, {"type": "background-files", "files": BACKGROUND_FILES})
        elif kind == "fetch-history-list":
            await _send(ws, {"type": "history-list", "histories": self._history_list()})
        elif kind == "create-new-history":
            history_uid = f"{datetime.now():%Y-%m-%d_%H-%M-%S}_{uuid.uuid4().hex}"
            self._histories[history_uid] = []
            session.history_uid = history_uid
            # The agent is shared by every session: this empties everyone's LLM memory (§2.8).
            self.memory.clear()
            self.history_resets += 1
            await _send(ws, {"type": "new-history-created", "history_uid": history_uid})
        elif kind == "fetch-and-set-history":
            await self._fetch_history(session, data)
        elif kind == "delete-history":
            history_uid = data.get("history_uid")
            if history_uid:
                success = self._histories.pop(history_uid, None) is not None
                await _send(ws, {"type": "history-deleted", "success": success, "history_uid": history_uid})
                if history_uid == session.history_uid:
                    session.history_uid = None
        # No type, unknown types, frontend-playback-complete, audio-play-start (group mode only)
        # and raw-audio-data (no VAD here): nothing is sent back.

    async def _switch_config(self, session: _Session, data: dict[str, Any]) -> None:
        file = data.get("file")
        if not file:
            return
        if file not in {c["filename"] for c in CONFIG_FILES}:
            message = f"Error switching configuration: config file not found: {file}"
            await _send(session.ws, {"type": "error", "message": message})
            return
        reply = {"type": "set-model-and-conf", "model_info": MODEL_INFO, "conf_name": CONF_NAME, "conf_uid": CONF_UID}
        await _send(session.ws, reply)
        await _send(session.ws, {"type": "config-switched", "message": f"Switched to config: {file}"})

    async def _fetch_history(self, session: _Session, data: dict[str, Any]) -> None:
        history_uid = data.get("history_uid")
        if not history_uid:
            return
        session.history_uid = history_uid
        messages = self._histories.get(history_uid, [])
        self.memory[:] = [("human" if m["role"] == "human" else "ai", m["content"]) for m in messages]
        visible = [m for m in messages if m["role"] != "system"]
        await _send(session.ws, {"type": "history-data", "messages": visible})

    def _history_list(self) -> list[dict[str, Any]]:
        histories = []
        for history_uid, messages in self._histories.items():
            latest = messages[-1] if messages else None
            histories.append(
                {"uid": history_uid, "latest_message": latest, "timestamp": latest["timestamp"] if latest else None}
            )
        return histories[::-1]  # newest first

    def _store_history(self, session: _Session, role: str, content: str) -> None:
        if session.history_uid is None:
            return
        message: dict[str, Any] = {"role": role, "timestamp": datetime.now().isoformat(), "content": content}
        if role == "ai":
            message |= {"name": CHARACTER_NAME, "avatar": AVATAR}
        self._histories.setdefault(session.history_uid, []).append(message)

    def _remember(self, role: str, text: str) -> None:
        """BasicMemoryAgent._add_message: no empty AI entry, no consecutive duplicate."""
        if role == "ai" and not text:
            return
        if self.memory and self.memory[-1] == (role, text):
            return
        self.memory.append((role, text))

    # --------------------------------------------------------------------- turns

    async def _start_turn(self, session: _Session, kind: str, data: dict[str, Any]) -> None:
        text = None if kind != "text-input" else str(data.get("text", ""))
        fault = self.faults.pop(0) if self.faults else None
        record = TurnRecord(session.client_uid, kind, text, fault, started_at=trio.current_time())
        self.turns.append(record)
        if kind == "ai-speak-signal":
            # Sent by the trigger handler itself, before the turn task exists.
            await _send(session.ws, {"type": "full-text", "text": "AI wants to speak something..."})
        if kind == "mic-audio-end":
            session.mic_samples = 0
        turn = _Turn(record, data.get("images"))
        # OLV does not cancel a running turn: it overwrites current_conversation_tasks (§2.7).
        if session.running:
            self.overlaps += 1
        session.running.add(turn)
        session.current = turn
        assert session.nursery is not None
        session.nursery.start_soon(self._run_turn, session, turn)

    async def _run_turn(self, session: _Session, turn: _Turn) -> None:
        try:
            with turn.scope:
                await self._turn_script(session, turn)
        except ConnectionClosed:
            pass
        finally:
            turn.done = True
            session.running.discard(turn)
            if turn.record.outcome == "running":
                turn.record.outcome = "disconnected"

    async def _turn_script(self, session: _Session, turn: _Turn) -> None:
        script, record, fault = self.script, turn.record, turn.record.fault
        send = partial(_send_in_turn, session.ws)
        if fault is Fault.SLOW_START:
            await trio.sleep(script.slow_start)
        record.started_at = trio.current_time()
        await send({"type": "control", "text": "conversation-chain-start"})
        await send({"type": "full-text", "text": "Thinking..."})
        if record.kind == "mic-audio-end":
            record.text = script.transcription
            await send({"type": "user-input-transcription", "text": record.text})

        # Anything that raises outside the LLM stream (bad images, a history write, ASR)
        # ends the turn with an error and no chain-end; the agent never ran.
        problem = _image_problem(turn.images)
        if fault is Fault.FATAL_ERROR:
            problem = "fake failure (Fault.FATAL_ERROR)"
        if problem is not None:
            await send({"type": "error", "message": f"Conversation error: {problem}"})
            record.outcome = "fatal"
            return

        # agent.chat(): resets the interrupt flag and stores the input (not ai-speak-signal's prompt).
        self._interrupt_handled = False
        if record.text is not None:
            self._remember("human", record.text)
            self._store_history(session, "human", record.text)
        sentences = NO_TTS_SENTENCES if fault is Fault.NO_TTS else list(script.sentences)
        if script.echo and record.text is not None and fault is not Fault.NO_TTS:
            sentences.insert(0, f"You said: {record.text} ")
        if fault is Fault.LLM_ERROR:
            sentences = sentences[:1]  # the LLM stream breaks after its first sentence
        await trio.sleep(script.llm_delay)
        tts_tasks = 0
        for index, sentence in enumerate(sentences):
            if index:
                await trio.sleep(script.sentence_delay)
            speakable = _speakable(sentence)
            tts_tasks += speakable
            await send(_audio_payload(sentence, speakable, script.volumes, huge=fault is Fault.HUGE_AUDIO))
            record.reply += sentence
            if fault is Fault.CLOSE_MID_TURN:
                break
            if fault is Fault.CRASH:
                record.outcome = "crashed"
                self.restart(script.crash_down_for)
                await trio.sleep_forever()  # cancelled at once by the crash
        if fault is Fault.CLOSE_MID_TURN:
            # The close handshake ends this session; the turn is cancelled with it.
            await _close(session.ws, 1011, "fake OLV: Fault.CLOSE_MID_TURN")
            return
        if fault is Fault.LLM_ERROR:
            # The stream raised, so the agent never stored a reply; the turn still finishes.
            message = "Error processing agent response: fake failure (Fault.LLM_ERROR)"
            await send({"type": "error", "message": message})
        else:
            self._remember("ai", record.reply)

        if tts_tasks:
            await send({"type": "backend-synth-complete"})  # (A) after the TTS tasks
            await send({"type": "backend-synth-complete"})  # (B) from finalize_conversation_turn
            if fault is Fault.WEDGE:
                # Hung for good, with no waiter: playback-completes are dropped (and counted late).
                await trio.sleep_forever()
            # The waiter exists only from here on: one-shot, no timeout.
            waiter = trio.Event()
            if script.overwrite_waiter:
                session.waiters.clear()
            session.waiters.append(waiter)
            try:
                await waiter.wait()
            finally:
                if waiter in session.waiters:
                    session.waiters.remove(waiter)
        elif fault is Fault.WEDGE:
            await trio.sleep_forever()
        await send({"type": "force-new-message"})
        await send({"type": "control", "text": "conversation-chain-end"})
        record.ended_at = trio.current_time()
        record.outcome = "ended"
        if record.reply:
            self._store_history(session, "ai", record.reply)

    def _interrupt(self, session: _Session, data: dict[str, Any]) -> None:
        heard = str(data.get("text") or "")
        during = bool(session.running)
        self.interrupts.append((heard, during))
        if not during:
            self.idle_interrupts += 1
        current = session.current
        if current is None:
            return  # no entry in current_conversation_tasks: OLV does nothing at all
        # Only the latest turn is in current_conversation_tasks; an overlapped earlier one keeps hanging.
        if not current.done:
            current.record.outcome = "interrupted"
            current.scope.cancel()
        # agent.handle_interrupt() runs even when the turn is long over: that is the trap of §2.6.
        if not self._interrupt_handled:
            self._interrupt_handled = True
            if self.memory and self.memory[-1][0] == "ai":
                self.memory[-1] = ("ai", heard + "...")
            elif heard:
                self.memory.append(("ai", heard + "..."))
            self.memory.append(("human", "[Interrupted by user]"))
        self._store_history(session, "ai", heard)
        self._store_history(session, "system", "[Interrupted by user]")

    # ----------------------------------------------------------------- /proxy-ws

    async def _serve_proxy_client(self, ws: WebSocketConnection) -> None:
        proxy = self._proxy
        client_id = str(uuid.uuid4())
        proxy.clients[client_id] = ws
        self.proxy_connections += 1
        self.accepted.append((trio.current_time(), "/proxy-ws"))
        try:
            try:
                await self._proxy_connect()
            except (OSError, HandshakeError, ConnectionClosed):
                await _close(ws, 1011, "fake OLV proxy: cannot reach /client-ws")
                return
            # The answer, set-model-and-conf, is broadcast to every proxy client.
            await self._proxy_upstream_send({"type": "request-init-config", "client_id": client_id})
            while True:
                raw = await ws.get_message()
                message = _proxy_parse(raw)
                if message is None:
                    # receive_json() or .get() raised: the proxy drops this client.
                    await _close(ws, 1000, None)
                    return
                kind = message.get("type")
                self.proxy_messages_received.append(message)
                if kind == "text-input":
                    proxy.queue.append((message, client_id))
                elif kind == "interrupt-signal":
                    heard = str(message.get("text") or "")
                    self.proxy_interrupts.append((heard, proxy.conversation_active))
                    if not proxy.conversation_active:
                        self.proxy_idle_interrupts += 1
                    proxy.conversation_active = False
                    await self._proxy_upstream_send(message)
                else:
                    await self._proxy_upstream_send(message)
        except ConnectionClosed:
            pass
        finally:
            self._proxy_client_gone(client_id)

    def _proxy_client_gone(self, client_id: str) -> None:
        proxy = self._proxy
        proxy.clients.pop(client_id, None)
        if proxy.clients or proxy.upstream is None:
            return
        # The last client left: close upstream, clear the queue, and (bug) stop heartbeats for good.
        proxy.heartbeat_running = False
        proxy.queue.clear()
        proxy.conversation_active = False
        proxy.upstream = None
        if proxy.upstream_scope is not None:
            proxy.upstream_scope.cancel()
            proxy.upstream_scope = None

    async def _proxy_connect(self) -> None:
        proxy = self._proxy
        async with proxy.lock:
            if proxy.upstream is None:
                assert self._nursery is not None
                # In the server's nursery: the upstream outlives the client that opened it.
                await self._nursery.start(self._proxy_upstream)

    async def _proxy_upstream(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        proxy = self._proxy
        with trio.CancelScope() as scope:
            # Connection errors propagate to _proxy_connect() through nursery.start().
            async with open_websocket_url(
                self.url("/client-ws"),
                extra_headers=[(UPSTREAM_HEADER, b"1")],
                max_message_size=PROXY_UPSTREAM_MAX_MESSAGE_SIZE,
                disconnect_timeout=5,
            ) as upstream:
                # Published together, with no checkpoint in between, so a disconnect sees both.
                proxy.upstream, proxy.upstream_scope = upstream, scope
                try:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._proxy_heartbeat, upstream)
                        task_status.started()
                        await self._proxy_pump(upstream)
                        nursery.cancel_scope.cancel()
                finally:
                    if proxy.upstream is upstream:
                        # Upstream dropped by itself: forward_server_messages' finally.
                        proxy.upstream = proxy.upstream_scope = None
                        proxy.conversation_active = False

    async def _proxy_heartbeat(self, upstream: WebSocketConnection) -> None:
        # The first one goes out at once: every client sees a heartbeat-ack right after connecting.
        while self._proxy.heartbeat_running:
            try:
                await upstream.send_message(json.dumps({"type": "heartbeat"}))
            except ConnectionClosed:
                return  # the pump notices too
            await trio.sleep(self.proxy_heartbeat_interval)

    async def _proxy_pump(self, upstream: WebSocketConnection) -> None:
        """forward_server_messages: every upstream message goes to every proxy client."""
        while True:
            try:
                raw = await upstream.get_message()
            except ConnectionClosed:
                return
            if isinstance(raw, bytes):
                continue  # aiohttp's loop handles TEXT frames only
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if not data:
                continue
            if (
                isinstance(data, dict)
                and data.get("type") == "control"
                and data.get("text") == "conversation-chain-end"
            ):
                self._proxy.conversation_active = False
            await self._proxy_broadcast(data)

    async def _proxy_broadcast(self, data: Any, exclude: str | None = None) -> None:
        gone = []
        for client_id, ws in list(self._proxy.clients.items()):
            if client_id == exclude:
                continue
            try:
                await ws.send_message(_compact(data))  # re-serialised by send_json()
            except ConnectionClosed:
                gone.append(client_id)
        for client_id in gone:
            self._proxy_client_gone(client_id)

    async def _proxy_upstream_send(self, message: dict[str, Any]) -> bool:
        """forward_to_server: reconnects on demand if upstream dropped while clients remain."""
        proxy = self._proxy
        try:
            if proxy.upstream is None and proxy.clients:
                await self._proxy_connect()
            if proxy.upstream is None:
                return False
            await proxy.upstream.send_message(json.dumps(message))
        except (OSError, HandshakeError, ConnectionClosed):
            return False  # a drop is seen by the pump, which resets the proxy
        return True

    async def _proxy_consume(self) -> None:
        """ProxyMessageQueue._consume_loop: one text-input at a time, polled every 0.1 s."""
        proxy = self._proxy
        assert self._nursery is not None
        while True:
            await trio.sleep(0.1)
            if not proxy.conversation_active and proxy.queue and not self.proxy_paused:
                message, sender = proxy.queue.popleft()
                # Set before forwarding: only chain-end or an interrupt re-arms the queue.
                proxy.conversation_active = True
                self._nursery.start_soon(self._proxy_forward_text, message, sender)

    async def _proxy_forward_text(self, message: dict[str, Any], sender: str) -> None:
        proxy = self._proxy
        # A user-input-transcription copy goes upstream (unknown type there) and to every
        # client except the sender, so a frontend shows a human chat bubble.
        transcription = message | {"type": "user-input-transcription"}
        sent = await self._proxy_upstream_send(transcription)
        await self._proxy_broadcast(transcription, exclude=sender)
        if not (sent and await self._proxy_upstream_send(message)):
            # A failed forward re-arms the queue, as in _forward_message().
            proxy.conversation_active = False


# ------------------------------------------------------------- other clients


@attrs.define
class ClientLog:
    """What a helper client (`fake_frontend`, `proxy_typer`) did."""

    sent: list[tuple[float, str]] = attrs.field(factory=list)  # (when, text) of each text-input
    playback_completes: int = 0
    chain_starts: int = 0


async def fake_frontend(
    url: str, log: ClientLog | None = None, *, task_status: trio.TaskStatus[ClientLog] = trio.TASK_STATUS_IGNORED
) -> None:
    """The browser frontend on /proxy-ws (reference §8): it plays every turn's audio in real time,
    clears its queue at each chain-start, and answers each backend-synth-complete with
    frontend-playback-complete once what it received has played out."""
    log = log if log is not None else ClientLog()
    async with open_websocket_url(url, max_message_size=64 * 2**20) as ws, trio.open_nursery() as nursery:
        playback_end = 0.0
        turn = 0  # a chain-start clears the queue: an answer owed to the old turn is dropped

        async def answer(at: float, for_turn: int) -> None:
            await trio.sleep_until(at)
            if for_turn == turn:
                log.playback_completes += 1
                await ws.send_message(json.dumps({"type": "frontend-playback-complete"}))

        task_status.started(log)
        while True:
            data = json.loads(await ws.get_message())
            now = trio.current_time()
            kind = data.get("type")
            if kind == "control" and data.get("text") == "conversation-chain-start":
                log.chain_starts += 1
                turn += 1
                playback_end = now
            elif kind == "audio":
                playback_end = max(playback_end, now) + len(data.get("volumes") or []) * SLICE_LENGTH_MS / 1000
            elif kind == "backend-synth-complete":
                nursery.start_soon(answer, max(playback_end, now), turn)


async def proxy_typer(
    url: str,
    every: float,
    log: ClientLog | None = None,
    *,
    count: int | None = None,
    task_status: trio.TaskStatus[ClientLog] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A second person typing into the proxy: a text-input every `every` seconds, queued by the
    proxy like anyone's, which therefore sends the other clients its user-input-transcription
    just before forwarding it. It reads (and ignores) everything else."""
    log = log if log is not None else ClientLog()
    async with open_websocket_url(url, max_message_size=64 * 2**20) as ws, trio.open_nursery() as nursery:

        async def drain() -> None:
            while True:
                await ws.get_message()

        nursery.start_soon(drain)
        task_status.started(log)
        typed = 0
        while count is None or typed < count:
            await trio.sleep(every)
            text = f"typed line {typed}"
            log.sent.append((trio.current_time(), text))
            await ws.send_message(json.dumps({"type": "text-input", "text": text, "images": []}))
            typed += 1
        nursery.cancel_scope.cancel()


# ------------------------------------------------------------------- helpers


def _proxy_parse(raw: str | bytes) -> dict[str, Any] | None:
    """What the proxy's receive_json() + .get() accept: a JSON object in a text frame."""
    if isinstance(raw, bytes):
        return None
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _compact(data: Any) -> str:
    # Starlette's send_json() serialises this way; OLV's send_text(json.dumps(...)) uses the defaults.
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


async def _send(ws: WebSocketConnection, message: dict[str, Any]) -> None:
    await ws.send_message(json.dumps(message))


async def _send_in_turn(ws: WebSocketConnection, message: dict[str, Any]) -> None:
    # A cancelled turn sends nothing more; but a frame already on its way is finished,
    # as asyncio's transport would, instead of being cut off mid-frame (a broken stream).
    await trio.lowlevel.checkpoint_if_cancelled()
    with trio.move_on_after(10, shield=True):
        await _send(ws, message)


async def _close(ws: WebSocketConnection, code: int, reason: str | None) -> None:
    # A client that is not reading can't answer the close; give up and drop the TCP stream.
    with trio.move_on_after(2):
        await ws.aclose(code, reason)


def _group_update() -> dict[str, Any]:
    return {"type": "group-update", "members": [], "is_owner": False}


def _model_and_conf(client_uid: str) -> dict[str, Any]:
    return {
        "type": "set-model-and-conf",
        "model_info": MODEL_INFO,
        "conf_name": CONF_NAME,
        "conf_uid": CONF_UID,
        "client_uid": client_uid,
    }


def _speakable(sentence: str) -> bool:
    return bool(_UNSPOKEN_CHARS.sub("", _UNSPOKEN_MARKUP.sub("", sentence)))


def _image_problem(images: Any) -> str | None:
    """What create_batch_input() would raise for these images, if anything."""
    if not images:
        return None
    try:
        for image in images:
            source = image["source"]
            if source not in IMAGE_SOURCES:
                return f"{source!r} is not a valid ImageSource"
            _ = image["data"], image["mime_type"]  # only a KeyError matters
    except (KeyError, TypeError) as error:
        return str(error)
    return None


def _audio_payload(sentence: str, speakable: bool, slices: int, *, huge: bool) -> dict[str, Any]:
    expressions = [EMOTION_MAP[tag] for tag in _EMOTION_TAG.findall(sentence) if tag in EMOTION_MAP]
    audio: str | None = None
    volumes: list[float] = []
    if speakable:
        audio = _huge_wav() if huge else _wav(slices)
        volumes = _volumes(slices)
    return {
        "type": "audio",
        "audio": audio,
        "volumes": volumes,
        "slice_length": SLICE_LENGTH_MS,
        "display_text": {"text": sentence, "name": CHARACTER_NAME, "avatar": AVATAR},
        "actions": {"expressions": expressions} if expressions else {},
        "forwarded": False,
    }


def _volumes(slices: int) -> list[float]:
    # RMS per 20 ms slice, normalised to the loudest one, as stream_audio does.
    levels = [(i * 7 % 10 + 1) / 10 for i in range(slices)]
    loudest = max(levels, default=1.0)
    return [round(level / loudest, 3) for level in levels]


@cache
def _wav(slices: int) -> str:
    """Base64 of a quiet 440 Hz tone lasting slices * 20 ms (8 kHz, 16-bit mono): small but valid."""
    rate = 8000
    count = slices * rate * SLICE_LENGTH_MS // 1000
    samples = (int(3000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(count))
    return _encode_wav(rate, b"".join(struct.pack("<h", s) for s in samples))


@cache
def _huge_wav() -> str:
    """Base64 of ~25 s of 24 kHz silence: 1.5 MiB of base64, past trio-websocket's 1 MiB default limit."""
    raw_bytes = (3 * 2**20) // 2 * 3 // 4
    return _encode_wav(24000, bytes(raw_bytes - raw_bytes % 2))


def _encode_wav(rate: int, frames: bytes) -> str:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# ---------------------------------------------------------------- standalone


async def _main(host: str, port: int, enable_proxy: bool) -> None:
    fake = FakeOlv(enable_proxy=enable_proxy)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve, host, port)
        where = fake.url() + (f" and {fake.url('/proxy-ws')}" if enable_proxy else "")
        print(f"fake OLV listening on {where} (Ctrl-C to stop)", flush=True)
        await stop_on_signal(nursery.cancel_scope)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Open-LLM-VTuber WebSocket API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12393)
    parser.add_argument("--proxy", action="store_true", help="also serve /proxy-ws (enable_proxy: true)")
    args = parser.parse_args()
    trio.run(_main, args.host, args.port, args.proxy)


if __name__ == "__main__":
    main()
