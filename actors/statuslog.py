"""The status log: one stream of events, rendered for people or for programs.

`--log-format json` writes one JSON object per line, each with `event` (a
namespaced name like `supervision.child.restart_scheduled`), `ts` (UTC, ISO
8601) and `level`. The text format shows the same events as short lines for a
terminal. Both go to stdout, flushed per line, so `tail -f` and pipes see
each event as it happens.

Writing is synchronous on purpose: lines are short, stdout is a pipe or a
terminal, and a log line that waited for the scheduler could come out after
the event that followed it.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from supervision import Event

from .chat import ChatEvent
from .i18n import DEFAULT, catalogue, render
from .i18n import text as i18n_text
from .ledger import Fate


def _json_default(value: object) -> object:
    # Secrets render as their redacted str(); sets as sorted lists.
    if isinstance(value, set | frozenset):
        return sorted(str(v) for v in value)
    return str(value)


class StatusLog:
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        fmt: str = "text",
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        redact: Sequence[str] = (),
        language: str = DEFAULT,
    ) -> None:
        if fmt not in ("text", "json"):
            raise ValueError(f"unknown log format {fmt!r}")
        self._stream = stream if stream is not None else sys.stdout
        self._fmt = fmt
        self._wall_clock = wall_clock
        # The text format's language (i18n.console_language); JSON stays as it is.
        self.language = language
        # Secret values are masked in every line, whatever field carries them:
        # error texts from HTTP libraries quote URLs, keys included.
        self._redact = sorted((r for r in redact if len(r) >= 4), key=len, reverse=True)

    def emit(self, event: str, level: str = "info", **fields: Any) -> None:
        now = self._wall_clock()
        if self._fmt == "json":
            record = {"event": event, "ts": now.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
            record["level"] = level
            record.update(fields)
            line = json.dumps(record, ensure_ascii=False, default=_json_default)
        else:
            text = render_text(event, level, fields, self.language)
            if not text:
                return
            line = f"{now.astimezone():%H:%M:%S.%f}"[:-3] + " " + text
        for secret in self._redact:
            line = line.replace(secret, "***")
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # the reader went away (e.g. `| head`); the service goes on

    # ---- adapters: the sources of events -----------------------------------

    def supervision_hook(self, event: Event) -> None:
        fields = event.to_dict()
        name = fields.pop("event")
        level = fields.pop("level")
        self.emit(name, level, **fields)

    def fate(self, event: ChatEvent, fate: Fate, reason: str | None, detail: Mapping[str, Any]) -> None:
        fields: dict[str, Any] = {"id": event.id, "platform": event.platform.value, "kind": event.kind.value}
        if reason is not None:
            fields["reason"] = reason
        if "total" in detail:
            fields["score"] = dict(detail)  # why this message won: every part of its score
        if "error" in detail:
            fields["error"] = detail["error"]  # a stage failed on this message: what it raised
        if "merged_into" in detail:
            fields["merged_into"] = detail["merged_into"]  # one more asker of a crowd: answered in that turn
        fields["author"] = event.author.name
        fields["text"] = event.text
        self.emit(f"router.{fate.value}", "warning" if "error" in detail else "info", **fields)


# ---- the text rendering ------------------------------------------------------

_MARKS = {"warning": "!", "error": "✗"}


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_text(event: str, level: str, f: dict[str, Any], language: str = DEFAULT) -> str:
    """One event as a terminal line, in `language` (event names, fate
    reasons and ids stay as they are: they are what a streamer greps for)."""

    def say(key: str, **params: Any) -> str:
        return i18n_text(f"console.{key}", language, **params)

    mark = _MARKS.get(level, " ")
    if event == "session.turn_started":
        return f"{mark} session   ▶ {f['text']}"
    if event == "session.turn_ended":
        outcome = f.get("outcome", "ended")
        seconds = f"{f.get('duration_s') or 0.0:.1f}"
        ended = (
            say("turn_ended", seconds=seconds)
            if outcome == "ended"
            else say("turn_ended_cut", seconds=seconds, outcome=outcome)
        )
        reply = f": {_short(f['reply'], 70)}" if f.get("reply") else ""
        return f"{mark} session   {ended}{reply}"
    if event == "router.dispatched":
        return ""  # the session's turn line says it, with the prompt
    if event.startswith("router."):
        fate = event.removeprefix("router.")
        reason = f":{f['reason']}" if "reason" in f else ""
        error = f" ({_short(f['error'], 80)})" if f.get("error") else ""
        return f"{mark} router    {fate}{reason} {f['id']} {f['author']}: {_short(f['text'], 50)}{error}"
    if event.startswith("supervision."):
        said = _render_supervision(event.removeprefix("supervision."), f, say, language)
        return f"{mark} {said}" if said else ""
    if event == "service.status":
        return render_status(f, language)
    if event == "control.listening":
        urls = ", ".join(f"http://{bind.split('://')[-1]}/" for bind in f.get("urls", []))
        return f"{mark} control   {say('dashboard_at', urls=urls)}"
    if event == "chzzk.needs_authorization":
        why = render(f.get("why_detail"), language, str(f.get("why", "")))
        return f"{mark} chzzk     {say('needs_auth', said=why, url=f['open'])}"
    if event.endswith(".retry") and "attempt" in f and "delay_s" in f:
        source, _, _ = event.partition(".")
        error = render(f.get("error_detail"), language, str(f.get("error", "")))
        retry = say("retry", attempt=f["attempt"], seconds=f"{f['delay_s']:.1f}", error=error)
        return f"{mark} {source:<9} {retry}"
    if event == "session.connected":
        return f"{mark} session   {say('olv_connected', url=f.get('url', ''))}"
    if event == "service.starting":
        monitors = ", ".join(str(m) for m in f.get("monitors", []))
        return f"{mark} service   {say('starting', monitors=monitors, session=f.get('session', ''))}"
    if event == "service.signal":
        key = "signal_hard" if f.get("action") == "stop at once" else "signal_graceful"
        return f"{mark} service   {say(key, signal=f.get('signal', ''))}"
    if event == "service.failed":
        return f"{mark} service   {say('failed', error=render(f.get('error_detail'), language, str(f['error'])))}"
    if event == "service.stopped":
        summary = _summary(f.get("counts"), language) or f["summary"]
        return f"{mark} service   {say('stopped', code=f['exit_code'], summary=summary)}"
    rest = " ".join(f"{k}={v}" for k, v in f.items())
    return f"{mark} {event} {rest}".rstrip()


def _summary(counts: object, language: str) -> str | None:
    """The conservation line in `language`, from the ledger's counts."""
    if not isinstance(counts, Mapping):
        return None
    try:
        return i18n_text(
            "console.summary",
            language,
            received=counts["received"],
            dispatched=counts["dispatched"],
            filtered=sum(counts["filtered"].values()),
            dropped=sum(counts["dropped"].values()),
            pending=counts["pending"],
        )
    except (KeyError, AttributeError, TypeError):
        return None


def _render_supervision(name: str, f: dict[str, Any], say: Callable[..., str], language: str) -> str:
    where = f"{f['supervisor']}/{f['child']}" if "child" in f else f["supervisor"]
    if name == "child.started":
        return f"super     {say('child_running', where=where, n=f.get('incarnation'))}"
    if name == "child.exited":
        if not f.get("error"):
            return f"super     {say('child_exited', where=where, outcome=f['outcome'])}"
        error = render(f.get("error_detail"), language, str(f["error"]))
        return f"super     {say('child_exited_error', where=where, outcome=f['outcome'], error=error)}"
    if name == "child.restart_scheduled":
        restart = say(
            "child_restart",
            where=where,
            attempt=f["attempt"],
            seconds=f"{f['delay_s']:.1f}",
            failures=f["consecutive_failures"],
            reason=f["reason"],
        )
        return f"super     {restart}"
    if name == "child.gave_up":
        return f"super     {say('child_gave_up', where=where, reason=f['reason'])}"
    if name == "child.stop_timeout":
        return f"super     {say('child_stop_timeout', where=where, seconds=f['grace_s'])}"
    if name == "supervisor.started":
        return f"super     {say('sup_started', where=where, children=', '.join(map(str, f.get('children', []))))}"
    if name == "supervisor.stopping":
        return f"super     {say('sup_stopping', where=where, reason=f.get('reason'))}"
    if name == "supervisor.stopped" and "duration_s" in f:
        seconds = f"{f['duration_s']:.1f}"
        return f"super     {say('sup_stopped', where=where, reason=f.get('reason'), seconds=seconds)}"
    if name == "supervisor.intensity_unreachable":
        return ""  # tuning advice: in the JSON log only, not noise on a terminal
    extra = " ".join(f"{k}={v}" for k, v in f.items() if k not in ("supervisor", "child", "incarnation"))
    return f"super     {where} {name.removeprefix('supervisor.')} {extra}".rstrip()


def render_status(f: dict[str, Any], language: str = DEFAULT) -> str:
    def say(key: str, **params: Any) -> str:
        return i18n_text(f"console.{key}", language, **params)

    summary = _summary(f.get("counts"), language) or f["summary"]
    uptime = say("uptime", seconds=f"{f['uptime_s']:.0f}")
    lines = [f"  status    {uptime} | {summary}"]
    tree = f["tree"]
    for path, child in _walk_tree(tree):
        depth = path.count(".")
        state = child["state"]
        detail = []
        if state == "running" and child["uptime_s"] is not None:
            detail.append(say("uptime", seconds=f"{child['uptime_s']:.0f}"))
        if child["incarnation"] > 1:
            detail.append(say("incarnation", n=child["incarnation"]))
        if child["restarts"]:
            detail.append(say("restarts", n=child["restarts"]))
        if child["next_restart_in_s"] is not None:
            detail.append(say("next_try", seconds=f"{child['next_restart_in_s']:.1f}"))
        last = child["last_exit"]
        if last and last["error"] and state != "running":
            error = render(last.get("error_detail"), language, last["error"])
            detail.append(say("last_error", error=_short(error, 50)))
        if child["status_text"]:
            detail.append(render(child.get("status_detail"), language, child["status_text"]))
        name = "  " * depth + child["id"]
        shown = (
            i18n_text(f"dashboard.actor_{state}", language)
            if f"dashboard.actor_{state}" in catalogue(DEFAULT)
            else state
        )
        lines.append(f"              {name:<12} {_pad(shown, 11)} {' | '.join(detail)}".rstrip())
    return "\n".join(lines)


def _pad(text: str, width: int) -> str:
    """Left-justify by what a terminal shows: a Hangul syllable takes two columns."""
    shown = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - shown)


def _walk_tree(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for child in tree["children"]:
        path = prefix + child["id"]
        rows.append((path, child))
        if child["children"]:
            rows.extend(_walk_tree(child["children"], path + "."))
    return rows
