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
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from supervision import Event

from .chat import ChatEvent
from .i18n import DEFAULT
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
            text = render_text(event, level, fields)
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


def render_text(event: str, level: str, f: dict[str, Any]) -> str:
    mark = _MARKS.get(level, " ")
    if event == "session.turn_started":
        return f"{mark} session   ▶ {f['text']}"
    if event == "session.turn_ended":
        outcome = f.get("outcome", "ended")
        cut = "" if outcome == "ended" else f" ({outcome})"
        said = f": {_short(f['reply'], 70)}" if f.get("reply") else ""
        return f"{mark} session   ■ turn ended after {f.get('duration_s') or 0.0:.1f}s{cut}{said}"
    if event == "router.dispatched":
        return ""  # the session's turn line says it, with the prompt
    if event.startswith("router."):
        fate = event.removeprefix("router.")
        reason = f":{f['reason']}" if "reason" in f else ""
        error = f" ({_short(f['error'], 80)})" if f.get("error") else ""
        return f"{mark} router    {fate}{reason} {f['id']} {f['author']}: {_short(f['text'], 50)}{error}"
    if event.startswith("supervision."):
        said = _render_supervision(event.removeprefix("supervision."), f)
        return f"{mark} {said}" if said else ""
    if event == "service.status":
        return render_status(f)
    if event == "control.listening":
        urls = ", ".join(f"http://{bind.split('://')[-1]}/" for bind in f.get("urls", []))
        return f"{mark} control   dashboard at {urls}"
    if event == "chzzk.needs_authorization":
        return f"{mark} chzzk     not authorised ({f['why']}): open {f['open']} to connect your Chzzk account"
    if event == "service.failed":
        return f"{mark} service   FAILED: {f['error']}"
    if event == "service.stopped":
        return f"{mark} service   stopped (exit {f['exit_code']}): {f['summary']}"
    rest = " ".join(f"{k}={v}" for k, v in f.items())
    return f"{mark} {event} {rest}".rstrip()


def _render_supervision(name: str, f: dict[str, Any]) -> str:
    where = f"{f['supervisor']}/{f['child']}" if "child" in f else f["supervisor"]
    if name == "child.started":
        return f"super     {where} running (incarnation {f.get('incarnation')})"
    if name == "child.exited":
        error = f": {f['error']}" if f.get("error") else ""
        return f"super     {where} exited ({f['outcome']}){error}"
    if name == "child.restart_scheduled":
        return (
            f"super     {where} restart #{f['attempt']} in {f['delay_s']:.1f}s "
            f"({f['consecutive_failures']} failures in a row): {f['reason']}"
        )
    if name == "child.gave_up":
        return f"super     {where} FAILED, left down: {f['reason']}"
    if name == "child.stop_timeout":
        return f"super     {where} ignored the stop request for {f['grace_s']}s; cancelled"
    if name == "supervisor.intensity_unreachable":
        return ""  # tuning advice: in the JSON log only, not noise on a terminal
    extra = " ".join(f"{k}={v}" for k, v in f.items() if k not in ("supervisor", "child", "incarnation"))
    return f"super     {where} {name.removeprefix('supervisor.')} {extra}".rstrip()


def render_status(f: dict[str, Any]) -> str:
    lines = [f"  status    up {f['uptime_s']:.0f}s | {f['summary']}"]
    tree = f["tree"]
    for path, child in _walk_tree(tree):
        depth = path.count(".")
        state = child["state"]
        detail = []
        if state == "running" and child["uptime_s"] is not None:
            detail.append(f"up {child['uptime_s']:.0f}s")
        if child["incarnation"] > 1:
            detail.append(f"incarnation {child['incarnation']}")
        if child["restarts"]:
            detail.append(f"restarts {child['restarts']}")
        if child["next_restart_in_s"] is not None:
            detail.append(f"next try in {child['next_restart_in_s']:.1f}s")
        if child["last_exit"] and child["last_exit"]["error"] and state != "running":
            detail.append(f"last error: {_short(child['last_exit']['error'], 50)}")
        if child["status_text"]:
            detail.append(child["status_text"])
        name = "  " * depth + child["id"]
        lines.append(f"              {name:<12} {state:<11} {' | '.join(detail)}".rstrip())
    return "\n".join(lines)


def _walk_tree(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for child in tree["children"]:
        path = prefix + child["id"]
        rows.append((path, child))
        if child["children"]:
            rows.extend(_walk_tree(child["children"], path + "."))
    return rows
