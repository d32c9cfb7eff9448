"""The control actor: HTTP + WebSocket on 127.0.0.1:12394 (hypercorn on Trio, Starlette).

- `GET /status`: the service as JSON (the supervision tree, the fate counts,
  what is pending, the YouTube quota); `GET /healthz` for scripts;
- `GET /`: the live dashboard (one offline page, `dashboard.html`);
- `WS /ws`: the seed's control protocol (`start-chat-monitor`,
  `stop-chat-monitor`, `chat-monitor-status`, and a `chat-message` pushed per
  dispatched message), plus `status`, `fate` and `turn` pushes for the
  dashboard.

Security: it listens on loopback unless told otherwise, and then only with a
token (checked on every request: `Authorization: Bearer`, or `?token=` where
a browser cannot set headers). It answers only to a Host header that names
its own address (`hosts.py`: DNS rebinding). A WebSocket handshake whose `Origin` is not
on the allow list is refused, so a web page open in the streamer's browser
cannot drive the service; clients that send no Origin (scripts) are not
browsers and pass.
"""

from __future__ import annotations

import functools
import hmac
import html
import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

import attrs
import httpx
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from supervision import ChildContext, ChildState, Supervisor

from ..chat import ChatEvent, one_per_viewer
from ..i18n import catalogue, page_language, says, tell
from ..i18n import text as i18n_text
from ..ledger import Fate
from ..monitors.registry import BY_NAME, PLATFORMS, OAuthFlow
from .cockpit import ACTIONS, Cockpit
from .hosts import HostGuard, HostPolicy
from .hub import Client, Hub

if TYPE_CHECKING:
    from ..app import Service

Emit = Callable[..., None]
LOOPBACK = ("127.0.0.1", "::1", "localhost")
HISTORY = 300  # fates and turns a page gets when it opens


@attrs.frozen
class ControlSettings:
    host: str = "127.0.0.1"
    port: int = 12394
    token: str = attrs.field(default="", repr=False)
    allowed_origins: tuple[str, ...] = ()
    push_every: float = 1.0


class MonitorControl:
    """The seed's start/stop/status, on the monitors' supervisor."""

    def __init__(self, service: Service) -> None:
        self._service = service

    def _monitors(self) -> Supervisor | None:
        return self._service.supervisor.child_supervisor("monitors")

    def platforms(self) -> dict[str, bool]:
        monitors = self._monitors()
        if monitors is None:
            return {spec.id: False for spec in self._service.monitor_specs}
        running = (ChildState.STARTING, ChildState.RUNNING, ChildState.BACKING_OFF)
        return {c.id: c.state in running for c in monitors.snapshot().children}

    def status(self) -> dict[str, Any]:
        platforms = self.platforms()
        return {
            "type": "chat-monitor-status",
            "enabled": bool(platforms),
            "running": any(platforms.values()),
            "platforms": platforms,
        }

    async def _each(self, platform: object, start: bool) -> tuple[bool, str | None]:
        monitors = self._monitors()
        if monitors is None:
            return False, "the monitors are not running"
        names = list(self.platforms())
        if platform is not None:
            if not isinstance(platform, str) or platform not in names:
                return False, f"no monitor {platform!r}; there are: {', '.join(names) or 'none'}"
            names = [platform]
        results = []
        for name in names:
            results.append(await (monitors.start_child(name) if start else monitors.stop_child(name)))
        return all(results), None

    async def handle(self, message: object) -> dict[str, Any]:
        """One client message -> its reply."""
        if not isinstance(message, Mapping):
            return _error("expected a JSON object with a type")
        kind = message.get("type")
        if kind == "chat-monitor-status":
            return self.status()
        if kind in ("start-chat-monitor", "stop-chat-monitor"):
            start = kind == "start-chat-monitor"
            ok, problem = await self._each(message.get("platform"), start)
            if problem is not None:
                return _error(problem)
            if start:
                return {"type": "chat-monitor-started", "success": ok, "status": self.platforms()}
            return {"type": "chat-monitor-stopped", "success": ok}
        return _error(f"unknown message type {kind!r}")


def _page(title: str, text: str, status: int = 200, language: str = "en") -> HTMLResponse:
    body = (
        f"<!doctype html><html lang={language}><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
    )
    return HTMLResponse(body, status_code=status)


def _error(text: str) -> dict[str, Any]:
    return {"type": "chat-monitor-error", "message": text}


def status_snapshot(service: Service) -> dict[str, Any]:
    fields = service.status_fields()
    router = service.router
    now = trio.current_time()

    def entry(event: ChatEvent, state: str) -> dict[str, Any]:
        return {
            "id": event.id,
            "platform": event.platform.value,
            "author": event.author.name,
            "author_id": event.author.id,  # for the cockpit's mute
            "text": event.text,
            "score": round(router.score(event, now).total, 3),
            "state": state,
        }

    # Every message the count calls pending, so the list and the count agree:
    # "starting" ones were handed to the VTuber, which has not begun them yet.
    pinned = {id(e) for e in service.buffer.pinned()}
    pending = [
        entry(e, "starting" if handed else "pinned" if id(e) in pinned else "waiting")
        for e, handed in service.buffer.unfated()
    ]
    again = [entry(e, "again") for e in service.buffer.answering_again()]
    return {
        "service": {k: fields[k] for k in ("uptime_s", "summary", "counts", "balanced")},
        "tree": fields["tree"],
        "pending": pending,
        "paused": service.buffer.paused,
        # posted -> answer started, per platform, over the last minutes (timeline.py)
        "latency": service.waits.summary(),
        "muted": sorted(service.router.filters.muted),
        "answering_again": again,  # dispatched already: not in the pending count
        # Each platform's box (the YouTube monitor's state in words, the
        # Chzzk login and socket...), None for one the config leaves off.
        **{p.name: _platform_status(service, p.name) for p in PLATFORMS},
    }


def _platform_status(service: Service, name: str) -> dict[str, Any] | None:
    runtime = service.platforms.get(name)
    return None if runtime is None else runtime.status()


def fate_message(event: ChatEvent, fate: Fate, reason: str | None, detail: Mapping[str, Any]) -> dict[str, Any]:
    total = detail.get("total") if isinstance(detail, Mapping) else None
    # why it won: the score's parts (mention, question, paid, age...), for the dashboard
    why = {k: v for k, v in detail.items() if k != "total"} if total is not None else None
    return {
        "type": "fate",
        "id": event.id,
        "platform": event.platform.value,
        "author": event.author.name,
        "text": event.text,
        "fate": fate.value,
        "reason": reason,
        "score": total,
        "why": why,
        "at": event.sent_at.isoformat(),
    }


class ControlSurface:
    """The Starlette app and what it pushes; `run` is the supervised actor."""

    def __init__(self, service: Service, settings: ControlSettings, *, emit: Emit) -> None:
        self.service = service
        self.settings = settings
        self.emit = emit
        self.hub = Hub()
        self.monitors = MonitorControl(service)
        self.cockpit = Cockpit(service, emit=emit)
        # What a page needs when it opens mid-stream: the latest fates and
        # turns in the order they happened, and the turn being answered.
        self._fates: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._turns: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._answering: dict[str, Any] | None = None
        self._answering_id: str | None = None
        self._progress: dict[str, Any] | None = None
        origins = settings.allowed_origins or tuple(
            f"http://{host}:{settings.port}" for host in ("127.0.0.1", "localhost", settings.host)
        )
        self.allowed_origins = frozenset(origins)
        self.app = Starlette(
            routes=[
                Route("/", self.dashboard),
                Route("/overlay", self.overlay),
                Route("/status", self.status),
                Route("/healthz", self.healthz),
                # Each platform's consent pages (those with an OAuth flow).
                Route("/{platform}/auth", self.oauth_start),
                Route("/{platform}/callback", self.oauth_callback),
                WebSocketRoute("/ws", self.websocket),
            ]
        )

    # ---- what the service tells us ---------------------------------------------------------

    def on_fate(self, event: ChatEvent, fate: Fate, reason: str | None, detail: Mapping[str, Any]) -> None:
        message = fate_message(event, fate, reason, detail)
        self._fates.append(message)
        if not len(self.hub):
            return
        self.hub.publish(message)
        if fate is Fate.DISPATCHED:
            # The seed's push, one per dispatched message.
            self.hub.publish(
                {
                    "type": "chat-message",
                    "platform": event.platform.value,
                    "author": event.author.name,
                    "message": event.text,
                    "formatted_text": self.service.format_line(event),
                }
            )

    def on_turn_started(self, events: Sequence[ChatEvent], fields: Mapping[str, Any]) -> None:
        leader = events[0]
        self._answering = {
            "type": "turn-started",
            "ids": [e.id for e in events],
            "platform": leader.platform.value,
            "author": leader.author.name,
            "text": leader.text,
            "kind": leader.kind.value,
            "amount": None if leader.amount is None else leader.amount.display,
            "askers": [e.author.name for e in one_per_viewer(events)[1:]],  # a crowd's other viewers
        }
        self._answering_id = leader.id
        self._progress = None
        self.hub.publish(self._answering)

    def on_turn_progress(self, events: Sequence[ChatEvent], fields: Mapping[str, Any]) -> None:
        self._progress = {"type": "turn-progress", "id": events[0].id, "reply": fields.get("reply")}
        self.hub.publish(self._progress)

    def on_turn_ended(self, events: list[ChatEvent], fields: Mapping[str, Any]) -> None:
        message = {
            "type": "turn",
            "ids": [e.id for e in events],
            "outcome": fields.get("outcome"),
            "reply": fields.get("reply"),
            "duration_s": fields.get("duration_s"),
            "put_back": bool(fields.get("put_back")),  # cut off, and to be answered again first
        }
        self._turns.append(message)
        if events and self._answering is not None and self._answering_id == events[0].id:
            self._answering = self._progress = None
        self.hub.publish(message)

    # ---- HTTP ------------------------------------------------------------------------------

    def _authorized(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        token = self.settings.token
        if not token:
            return True
        offered = query.get("token") or headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(offered.encode(), token.encode())

    def _language(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str:
        """What this page or socket speaks: ?lang=, the setting, the browser's (i18n.page_language)."""
        return page_language(self.service.config.service.language, headers.get("accept-language"), query.get("lang"))

    def _localized(self, name: str, request: Request) -> HTMLResponse:
        """A page with its language's catalogue inside (a JSON script block
        the page reads; "</" escaped so no text can close the block)."""
        language = self._language(request.headers, request.query_params)
        page = resources.files("actors.control").joinpath(name).read_text(encoding="utf-8")
        strings = json.dumps(catalogue(language), ensure_ascii=False).replace("</", "<\\/")
        page = page.replace('<html lang="en">', f'<html lang="{language}">', 1)
        page = page.replace("<!--i18n-->", f'<script id="i18n" type="application/json">{strings}</script>', 1)
        return HTMLResponse(page)

    def _text(self, request: Request, key: str, **params: object) -> str:
        return i18n_text(key, self._language(request.headers, request.query_params), **params)

    async def dashboard(self, request: Request) -> Response:
        if not self._authorized(request.headers, request.query_params):
            return JSONResponse({"error": "a token is needed"}, status_code=401)
        return self._localized("dashboard.html", request)

    async def overlay(self, request: Request) -> Response:
        """The OBS browser source: the message being answered, on a transparent page."""
        if not self._authorized(request.headers, request.query_params):
            return JSONResponse({"error": "a token is needed"}, status_code=401)
        return self._localized("overlay.html", request)

    async def status(self, request: Request) -> Response:
        if not self._authorized(request.headers, request.query_params):
            return JSONResponse({"error": "a token is needed"}, status_code=401)
        return JSONResponse(status_snapshot(self.service))

    async def healthz(self, request: Request) -> Response:
        if not self._authorized(request.headers, request.query_params):
            return JSONResponse({"error": "a token is needed"}, status_code=401)
        ledger = self.service.ledger
        return JSONResponse({"ok": True, "balanced": ledger.balanced, "received": ledger.received})

    # ---- the OAuth2 authorisation code flows (Chzzk, and any platform that has one) ----------

    def _oauth(self, request: Request) -> tuple[str, OAuthFlow | None]:
        name = str(request.path_params["platform"])
        runtime = self.service.platforms.get(name) if name in BY_NAME else None
        return name, None if runtime is None else runtime.oauth

    async def oauth_start(self, request: Request) -> Response:
        """Start the consent: a fresh `state`, then the platform's consent page."""
        name, flow = self._oauth(request)
        # The token first: without it, nothing is said, not even which platforms are on.
        if not self._authorized(request.headers, request.query_params):
            return self._said(request, name, "token", 401)
        if flow is None:
            return self._said(request, name, "disabled", 404)
        self.emit(f"{name}.consent_started")
        # No Referer to the platform: our URL may carry ?token=.
        return RedirectResponse(flow.begin(), status_code=302, headers={"Referrer-Policy": "no-referrer"})

    async def oauth_callback(self, request: Request) -> Response:
        """Where the platform sends the browser back. No control token here:
        the browser comes from the platform and cannot carry one. The `state`
        is the guard: only a state we issued moments ago is accepted, once,
        so a page elsewhere cannot plant its own code in our service (CSRF)."""
        name, flow = self._oauth(request)
        if flow is None:
            return self._said(request, name, "disabled", 404)
        query = request.query_params
        state = query.get("state", "")
        if not state or not flow.take_state(state):
            self.emit(f"{name}.callback_refused", "warning", why="state does not match")
            return self._said(request, name, "refused", 400)
        code = query.get("code", "")
        if not code:
            why = query.get("error_description") or query.get("error") or "no code in the answer"
            return self._said(request, name, "not_granted", 400, title="failed", why=why)
        try:
            async with httpx.AsyncClient() as client:
                await flow.exchange(client, code, state)
        except Exception as exc:  # shown to the streamer, who is looking at this page
            self.emit(f"{name}.exchange_failed", "error", error=f"{type(exc).__name__}: {exc}")
            error = f"{type(exc).__name__}: {exc}"
            return self._said(request, name, "exchange_failed", 502, title="failed", error=error)
        await self._restart_if_failed(name)
        return self._said(request, name, "connected", 200)

    def _said(
        self, request: Request, name: str, key: str, status: int, *, title: str | None = None, **params: object
    ) -> HTMLResponse:
        """One of the OAuth pages, in the browser's language (pages.* in the catalogue)."""
        language = self._language(request.headers, request.query_params)
        platform = i18n_text(f"platforms.{name}", language) if name in BY_NAME else name
        params = {"platform": platform, "name": name, **params}
        heading = i18n_text(f"pages.{title or key}_title", language, **params)
        return _page(heading, i18n_text(f"pages.{key}", language, **params), status, language)

    async def _restart_if_failed(self, name: str) -> None:
        """A monitor that gave up (a refused scope, say) gets a fresh start
        with the new consent; one that waits for it simply wakes up."""
        monitors = self.monitors._monitors()
        if monitors is None:
            return
        for child in monitors.snapshot().children:
            if child.id == name and child.state is ChildState.FAILED:
                await monitors.start_child(name)

    # ---- the WebSocket -----------------------------------------------------------------------

    async def websocket(self, websocket: WebSocket) -> None:
        origin = websocket.headers.get("origin")
        if origin is not None and origin not in self.allowed_origins:
            self.emit("control.refused", "warning", why="origin not allowed", origin=origin)
            await websocket.close(code=1008)  # before accept: the handshake is refused (403)
            return
        if not self._authorized(websocket.headers, websocket.query_params):
            self.emit("control.refused", "warning", why="no valid token")
            await websocket.close(code=1008)
            return
        await websocket.accept()
        client = self.hub.connect()
        client.put({"type": "status", "status": status_snapshot(self.service)})
        # What happened before the page opened, then what is being answered now.
        client.put({"type": "history", "fates": list(self._fates), "turns": list(self._turns)})
        for now in (self._answering, self._progress):
            if now is not None:
                client.put(now)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write, websocket, client)
                await self._read(websocket, client, origin, self._language(websocket.headers, websocket.query_params))
                nursery.cancel_scope.cancel()
        finally:
            self.hub.disconnect(client)

    async def _read(self, websocket: WebSocket, client: Client, origin: str | None, language: str) -> None:
        while True:
            try:
                raw = await websocket.receive_text()
            except (WebSocketDisconnect, RuntimeError, KeyError):
                return  # closed (a binary frame is a bad message, not a crash)
            try:
                message = json.loads(raw)
            except ValueError:
                client.put(_error("not JSON"))
                continue
            if isinstance(message, Mapping) and isinstance(message.get("type"), str) and message["type"] in ACTIONS:
                client.put(self.cockpit.handle(message, origin, language))
                # Everyone sees the change at once, not at the next push.
                self.hub.publish({"type": "status", "status": status_snapshot(self.service)})
            else:
                client.put(await self.monitors.handle(message))

    async def _write(self, websocket: WebSocket, client: Client) -> None:
        async for message in client.receive:
            await websocket.send_text(json.dumps(message, ensure_ascii=False, default=str))
        await websocket.close(code=1013)  # dropped for being too slow

    # ---- the actor ---------------------------------------------------------------------------

    async def run(self, ctx: ChildContext) -> None:
        s = self.settings
        config = HypercornConfig()
        config.bind = [f"[{s.host}]:{s.port}" if ":" in s.host else f"{s.host}:{s.port}"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 2.0
        async with trio.open_nursery() as nursery:
            guard = HostGuard(self.app, HostPolicy(s.host, s.port), on_refused=self._host_refused)
            app: Any = guard  # an ASGI app; hypercorn's type names its own protocol
            binds = await nursery.start(functools.partial(serve, app, config, shutdown_trigger=ctx.stopping.wait))
            self.emit("control.listening", urls=list(binds))
            tell(ctx, says("status.control_listening", urls=" ".join(binds)))
            ctx.started()
            # Both end on the stop request: hypercorn closes gracefully
            # (connections get graceful_timeout), the pusher at once.
            nursery.start_soon(self._push_status, ctx.stopping)

    def _host_refused(self, host: str | None) -> None:
        # ascii(): the value is a stranger's, and the text log goes to a terminal.
        shown = None if host is None else ascii(host[:80])
        self.emit("control.refused", "warning", why="Host is not this service's address", host=shown)

    async def _push_status(self, stopping: trio.Event) -> None:
        while not stopping.is_set():
            with trio.move_on_after(self.settings.push_every):
                await stopping.wait()
            if len(self.hub) and not stopping.is_set():
                self.hub.publish({"type": "status", "status": status_snapshot(self.service)})
