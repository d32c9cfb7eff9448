"""The report as one HTML page: sections of figures, tables and charts.

Self-contained: the style is inline, the charts are inline SVG, and there
is no script and no link to load, so the file opens from a disk, offline,
and prints. Every string from the archive is escaped here (it was cleaned
when read, but a name may still hold `<`).

Every figure the page shows stands in an element with `data-fig="<key>"`,
and its text is the number as a streamer reads it ("1,234", "12.3",
"$5.00"): the property test finds each one by its key and holds it to a
count over the archive, and fails on a figure it does not know.
"""

from __future__ import annotations

import html
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..i18n import DEFAULT, catalogue, text
from . import charts
from .logs import LogTally
from .tally import PaidRow, Tally

TOP_VIEWERS = 10
TOP_CATEGORIES = 7  # bands drawn per fate in the chart; the rest is one "other" band


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def number(value: int | float | Decimal | None, places: int = 0) -> str:
    if value is None:
        return "–"
    if places == 0 and isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{places}f}"


def fig(key: str, value: int | float | Decimal | None, places: int = 0, prefix: str = "") -> str:
    return f'<span class="fig" data-fig="{esc(key)}">{prefix}{number(value, places)}</span>'


class Page:
    """One report in one language: `render()` gives the whole HTML."""

    def __init__(
        self,
        tally: Tally,
        log: LogTally | None,
        *,
        language: str,
        tz: tzinfo,
        source: Path,
        log_source: Path | None = None,
        draw: bool = True,
    ) -> None:
        self.t = tally
        self.log = log
        self.language = language
        self.tz = tz
        self.source = source
        self.log_source = log_source
        self.draw = draw

    # ---- words ------------------------------------------------------------

    def say(self, key: str, **params: Any) -> str:
        return text(key, self.language, **params)

    def _known(self, key: str) -> bool:
        return key in catalogue(DEFAULT)

    def reason(self, code: str) -> str:
        key = f"dashboard.reason_{code}"
        return self.say(key) if self._known(key) else code

    def outcome(self, code: str) -> str:
        key = f"dashboard.outcome_{code}"
        return self.say(key) if self._known(key) else code

    def platform(self, code: str) -> str:
        key = f"platforms.{code}"
        return self.say(key) if self._known(key) else code

    def category(self, category: str) -> str:
        if category in ("answered", "in_progress", "turn", "restart", "other_filtered", "other_dropped"):
            return self.say(f"report.cat_{category}")
        fate, _, reason = category.partition(":")
        if fate == "reconnect":
            return self.say("report.cat_reconnect", source=self.platform(reason))
        return self.say(f"report.cat_{fate}", reason=self.reason(reason))

    def time(self, moment: datetime | None, *, seconds: bool = True) -> str:
        if moment is None:
            return "–"
        return moment.astimezone(self.tz).strftime("%H:%M:%S" if seconds else "%H:%M")

    def day(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    # ---- the page ---------------------------------------------------------

    def render(self) -> str:
        body = "\n".join(
            [
                self.header(),
                self.overview(),
                self.chat_section(),
                self.paid_section(),
                self.viewers_section(),
                self.waiting_section(),
                self.filters_section(),
                self.session_section(),
                self.service_section(),
                self.skipped_section(),
            ]
        )
        return TEMPLATE.format(lang=self.language, title=esc(self.say("report.title")), style=STYLE, body=body)

    def header(self) -> str:
        t = self.t
        if t.first is None or t.last is None:
            span = self.say("report.empty")
        else:
            minutes = int((t.last - t.first).total_seconds() // 60)
            offset = t.first.astimezone(self.tz).strftime("%z")
            span = self.say(
                "report.span",
                start=self.day(t.first),
                end=self.time(t.last, seconds=False),
                hours=minutes // 60,
                minutes=minutes % 60,
                tz=f"UTC{offset[:3]}:{offset[3:]}",
            )
        return (
            f"<header><h1>{esc(self.say('report.title'))}</h1>"
            f'<p class="muted">{esc(span)} · <code>{esc(self.source.name)}</code></p></header>'
        )

    def overview(self) -> str:
        t = self.t
        cards = [
            (self.say("report.messages"), fig("records", t.records)),
            (self.say("report.cat_answered"), fig("fate.answered", t.count("answered"))),
            (self.say("report.filtered"), fig("fate.filtered", t.count("filtered"))),
            (self.say("report.dropped"), fig("fate.dropped", t.count("dropped"))),
            (self.say("report.viewers"), fig("viewers.chatted", len(t.viewers))),
            (self.say("report.paid"), fig("paid.count", t.paid)),
            (self.say("report.paid_usd"), fig("paid.usd", t.paid_usd, 2, "$")),
            (self.say("report.turns"), fig("session.turns", t.turns)),
        ]
        items = "".join(
            f'<div class="card"><div class="big">{value}</div><div>{esc(label)}</div></div>' for label, value in cards
        )
        in_progress = t.count("in_progress")
        note = (
            f'<p class="muted">{esc(self.say("report.in_progress_note"))} {fig("fate.in_progress", in_progress)}</p>'
            if in_progress
            else ""
        )
        return f'<section class="cards">{items}</section>{note}'

    def section(self, key: str, inner: str, *, help_key: str | None = None) -> str:
        helper = f'<p class="muted">{esc(self.say(help_key))}</p>' if help_key else ""
        return f'<section id="{key}"><h2>{esc(self.say("report.h_" + key))}</h2>{helper}{inner}</section>'

    def chart(self, make: Callable[[], str]) -> str:
        if not self.draw:
            return f'<p class="muted">{esc(self.say("report.no_charts", command=charts.INSTALL_HINT))}</p>'
        return f'<div class="chart-box">{make()}</div>'

    def chat_section(self) -> str:
        t = self.t
        series = t.chat.series()
        categories = self._bands()
        table = self.table(
            [self.say("report.col_fate"), self.say("report.col_count")],
            [
                [esc(self.category(c)), fig(f"cat.{c}", t.categories[c])]
                for c in sorted(t.categories, key=lambda c: (-t.categories[c], c))
            ],
        )
        chart = self.chart(
            lambda: charts.chat_over_time(
                [(start, self._grouped(counts, categories)) for start, counts in series],
                width_s=t.chat.width,
                categories=categories,
                label=self.category,
                say=self.say,
                tz=self.tz,
            )
        )
        return self.section("chat", chart + table, help_key="report.chat_help")

    def _bands(self) -> list[str]:
        """The chart's bands: answered, then the biggest reasons of each fate, then "other"."""
        cats = self.t.categories
        bands = [c for c in ("answered", "in_progress") if cats[c]]
        for fate in ("filtered", "dropped"):
            reasons = [f"{fate}:{r}" for r, _ in self.t.reasons(fate)]
            bands += reasons[:TOP_CATEGORIES]
            if len(reasons) > TOP_CATEGORIES:
                bands.append(f"other_{fate}")
        return bands

    def _grouped(self, counts: Counter[str], bands: Sequence[str]) -> Counter[str]:
        out: Counter[str] = Counter({"turn": counts["turn"]})
        for category, n in counts.items():
            if category == "turn":
                continue
            if category in bands:
                out[category] += n
            else:
                out[f"other_{category.partition(':')[0]}"] += n
        return out

    def paid_section(self) -> str:
        t = self.t
        figures = (
            f"<p>{esc(self.say('report.paid_summary_before'))} {fig('paid.count', t.paid)} · "
            f"{esc(self.say('report.cat_answered'))} {fig('paid.answered', t.paid_answered)} · "
            f'<span class="bad">{esc(self.say("report.paid_not_answered"))} '
            f"{fig('paid.not_answered', t.paid - t.paid_answered)}</span> · "
            f"{fig('paid.usd', t.paid_usd, 2, '$')}</p>"
        )
        currencies = " · ".join(
            f"{esc(code)} {fig(f'paid.currency.{code}', total, _places(total))} "
            f"({fig(f'paid.currency_count.{code}', t.paid_counts[code])})"
            for code, total in sorted(t.paid_sums.items())
        )
        if currencies:
            figures += f'<p class="muted">{currencies}</p>'
        if t.paid_unpriced:
            figures += (
                f'<p class="muted">{esc(self.say("report.unpriced"))} {fig("paid.unpriced", t.paid_unpriced)}</p>'
            )
        rows = [self._paid_row(row) for row in t.paid_list()]
        table = (
            self.table(
                [
                    self.say("report.col_time"),
                    self.say("report.col_platform"),
                    self.say("report.col_who"),
                    self.say("report.col_amount"),
                    "USD",
                    self.say("report.col_answered"),
                    self.say("report.col_message"),
                    self.say("report.col_reply"),
                ],
                [cells for cells, _ in rows],
                row_classes=["unanswered" if not answered else "" for _, answered in rows],
                table_class="paid",
            )
            if rows
            else f'<p class="muted">{esc(self.say("report.no_paid"))}</p>'
        )
        if t.paid_not_listed:
            table += f'<p class="muted">{esc(self.say("report.paid_not_listed", n=f"{t.paid_not_listed:,}"))}</p>'
        return self.section("paid", figures + table, help_key="report.paid_help")

    def _paid_row(self, row: PaidRow) -> tuple[list[str], bool]:
        if row.answered:
            when = f"✓ {esc(self.time(row.started))}"
            if row.wait_s is not None:
                when += f' <span class="muted">({esc(self.say("report.after_s", s=f"{row.wait_s:,.0f}"))})</span>'
        else:
            when = f'<span class="badge">✗ {esc(self.category(row.fate))}</span>'
        return (
            [
                esc(self.time(row.at)),
                esc(self.platform(row.platform)),
                esc(row.name),
                f'<span class="amount">{esc(row.display)}</span>',
                "–" if row.usd is None else f"${row.usd:,.2f}",
                when,
                f'<span class="text">{esc(row.text)}</span>',
                f'<span class="text">{esc(row.reply or "")}</span>',
            ],
            row.answered,
        )

    def viewers_section(self) -> str:
        t = self.t
        v = t.viewer_figures()
        figures = (
            f"<p>{esc(self.say('report.viewers_chatted'))} {fig('viewers.chatted', v['chatted'])} · "
            f"{esc(self.say('report.viewers_answered'))} {fig('viewers.answered', v['answered'])} · "
            f"{esc(self.say('report.viewers_first'))} {fig('viewers.first_answered', v['first_answered'])}</p>"
        )
        rows = [
            [
                str(i + 1),
                esc(viewer.name),
                esc(self.platform(platform)),
                fig(f"viewers.top.{i}.messages", viewer.messages),
                fig(f"viewers.top.{i}.answered", viewer.answered),
            ]
            for i, (platform, _, viewer) in enumerate(t.top_viewers(TOP_VIEWERS))
        ]
        table = self.table(
            [
                "#",
                self.say("report.col_who"),
                self.say("report.col_platform"),
                self.say("report.messages"),
                self.say("report.cat_answered"),
            ],
            rows,
        )
        return self.section(
            "viewers",
            figures + f"<h3>{esc(self.say('report.most_active'))}</h3>" + table,
            help_key="report.viewers_help",
        )

    def waiting_section(self) -> str:
        t = self.t
        waits = t.wait_figures()
        rows = [
            [
                esc(self.platform(p)),
                fig(f"wait.{p}.answered", f["answered"]),
                fig(f"wait.{p}.p50", f["p50"], 1),
                fig(f"wait.{p}.p90", f["p90"], 1),
                fig(f"wait.{p}.max", f["max"], 1),
                fig(f"wait.{p}.expired", f["expired"]),
            ]
            for p, f in waits.items()
        ]
        table = self.table(
            [
                self.say("report.col_platform"),
                self.say("report.cat_answered"),
                self.say("report.col_p50"),
                self.say("report.col_p90"),
                self.say("report.col_max"),
                self.say("report.chart_expired"),
            ],
            rows,
        )
        per_platform = [(self.platform(p), t.waits.get(p, array("d")), t.expired_by_platform[p]) for p in waits]
        chart = self.chart(lambda: charts.waiting(per_platform, self.say)) if per_platform else ""
        return self.section("waiting", table + chart, help_key="report.waiting_help")

    def filters_section(self) -> str:
        t = self.t
        parts: list[str] = []
        for reason, n in t.reasons("filtered"):
            samples = "".join(
                f'<li><span class="muted">{esc(self.time(s.at))} {esc(self.platform(s.platform))}</span> '
                f'<b>{esc(s.name)}</b>: <span class="text">{esc(s.text)}</span></li>'
                for s in sorted(t.samples.get(reason, []), key=lambda s: s.at)
            )
            parts.append(
                f"<details{' open' if len(parts) < 3 else ''}><summary><b>{esc(self.reason(reason))}</b> "
                f'{fig(f"filtered.{reason}", n)}</summary><ul class="samples">{samples}</ul></details>'
            )
        if not parts:
            parts.append(f'<p class="muted">{esc(self.say("report.no_filtered"))}</p>')
        dropped = " · ".join(f"{esc(self.reason(r))} {fig(f'dropped.{r}', n)}" for r, n in t.reasons("dropped"))
        if dropped:
            parts.append(f"<h3>{esc(self.say('report.dropped'))}</h3><p>{dropped}</p>")
        return self.section("filters", "".join(parts), help_key="report.filters_help")

    def session_section(self) -> str:
        t = self.t
        outcomes = " · ".join(
            f"{esc(self.outcome(o))} {fig(f'outcome.{o}', n)}"
            for o, n in sorted(t.outcomes.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        r = t.reply_figures()
        figures = (
            f"<p>{esc(self.say('report.turns'))} {fig('session.turns', t.turns)}"
            + (f" · {outcomes}" if outcomes else "")
            + "</p>"
            f"<p>{esc(self.say('report.replies'))} {fig('reply.count', r['replies'])} · "
            f"{esc(self.say('report.col_p50'))} {fig('reply.p50', r['p50'])} · "
            f"{esc(self.say('report.col_p90'))} {fig('reply.p90', r['p90'])} · "
            f"{esc(self.say('report.col_max'))} {fig('reply.max', r['max'])} "
            f'<span class="muted">{esc(self.say("report.characters"))}</span></p>'
        )
        chart = self.chart(lambda: charts.reply_lengths(t.reply_lengths, self.say)) if r["replies"] else ""
        return self.section("session", figures + chart, help_key="report.session_help")

    def service_section(self) -> str:
        log = self.log
        if log is None:
            return self.section("service", f'<p class="muted">{esc(self.say("report.no_log"))}</p>')
        restarts = " · ".join(f"{esc(a)} {fig(f'log.restarts.{a}', n)}" for a, n in sorted(log.restarts.items()))
        reconnects = " · ".join(
            f"{esc(self.platform(s))} {fig(f'log.reconnects.{s}', n)}" for s, n in sorted(log.reconnects.items())
        )
        quota = log.quota_series()
        lines = [
            f"<p>{esc(self.say('report.restarts'))} {fig('log.restarts', sum(log.restarts.values()))}"
            + (f" ({restarts})" if restarts else "")
            + "</p>",
            f"<p>{esc(self.say('report.reconnects'))} {fig('log.reconnects', sum(log.reconnects.values()))}"
            + (f" ({reconnects})" if reconnects else "")
            + "</p>",
        ]
        if log.gave_up:
            gave_up = " · ".join(f"{esc(a)} {fig(f'log.gave_up.{a}', n)}" for a, n in sorted(log.gave_up.items()))
            lines.append(f'<p class="bad">{esc(self.say("report.gave_up"))} {gave_up}</p>')
        if log.quota_max is not None or log.quota_exceeded:
            lines.append(
                f"<p>{esc(self.say('report.quota'))} {fig('log.quota_max', log.quota_max)} / "
                f"{fig('log.quota_daily', log.quota_daily)} · "
                f"{esc(self.say('report.quota_exceeded'))} {fig('log.quota_exceeded', log.quota_exceeded)}</p>"
            )
        series = log.events.series()
        chart = (
            self.chart(
                lambda: charts.service_over_time(
                    series, width_s=log.events.width, quota=quota, label=self.category, say=self.say, tz=self.tz
                )
            )
            if series or quota
            else ""
        )
        source = f'<p class="muted"><code>{esc(self.log_source.name)}</code></p>' if self.log_source else ""
        return self.section("service", source + "".join(lines) + chart, help_key="report.service_help")

    def skipped_section(self) -> str:
        t = self.t
        log_bad = self.log.unreadable if self.log else 0
        if not t.errors and not log_bad:
            return ""
        items = "".join(f"<li><code>{esc(e)}</code></li>" for e in t.error_samples)
        inner = f"<p>{esc(self.say('report.skipped'))} {fig('skipped', t.errors)}</p><ul>{items}</ul>"
        if log_bad:
            inner += f"<p>{esc(self.say('report.log_skipped'))} {fig('log.skipped', log_bad)}</p>"
        return self.section("skipped", inner)

    def table(
        self,
        head: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        row_classes: Sequence[str] = (),
        table_class: str = "",
    ) -> str:
        cells = "".join(f"<th>{esc(h)}</th>" for h in head)
        body = []
        for i, row in enumerate(rows):
            cls = row_classes[i] if i < len(row_classes) and row_classes[i] else ""
            attr = f' class="{cls}"' if cls else ""
            body.append(f"<tr{attr}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
        klass = f' class="{table_class}"' if table_class else ""
        return f"<table{klass}><thead><tr>{cells}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _places(value: Decimal) -> int:
    """Decimal places to show a currency total: as many as its amounts had, at most 2."""
    exponent = value.normalize().as_tuple().exponent
    return 0 if not isinstance(exponent, int) or exponent >= 0 else min(2, -exponent)


TEMPLATE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
{body}
</body>
</html>
"""

STYLE = """
:root { --ink: #1f2933; --muted: #66727f; --line: #e1e5ea; --bad: #c92a2a; --bad-bg: #fff0f0; --good: #2e9d5b; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 24px 28px 60px; color: var(--ink);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "Apple SD Gothic Neo", "Malgun Gothic",
  "Noto Sans CJK KR", "Noto Sans KR", sans-serif; background: #fafbfc; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 6px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; margin: 16px 0; }
.muted { color: var(--muted); }
.bad { color: var(--bad); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 10px;
  background: none; border: none; padding: 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.card .big { font-size: 24px; font-weight: 650; }
.fig { font-variant-numeric: tabular-nums; font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin-top: 8px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
table.paid td:nth-child(4), table.paid td:nth-child(5) { white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.unanswered td { background: var(--bad-bg); }
tr.unanswered td:first-child { box-shadow: inset 4px 0 0 var(--bad); }
.badge { color: var(--bad); font-weight: 600; white-space: nowrap; }
.text { overflow-wrap: anywhere; }
td .text { display: block; max-width: 360px; }
.chart-box { overflow-x: auto; }
svg.chart { max-width: 100%; height: auto; }
svg.chart text { font-family: system-ui, -apple-system, "Segoe UI", "Apple SD Gothic Neo", "Malgun Gothic",
  "Noto Sans CJK KR", "Noto Sans KR", sans-serif !important; }
details { margin: 6px 0; }
summary { cursor: pointer; }
ul.samples { margin: 4px 0 10px; padding-left: 20px; }
code { font-size: 12px; }
@media print { body { background: #fff; } section { break-inside: avoid; } }
"""
