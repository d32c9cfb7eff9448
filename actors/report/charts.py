"""The report's charts: matplotlib, written as SVG into the page.

Why matplotlib writing SVG rather than plotly: a chart is a few tens of
kilobytes of vector drawing inside the HTML, with no script at all, so the
page opens from a file, prints, and stays small (plotly's self-contained
file carries its 4.7 MB JavaScript library in every report). Text stays
text (`svg.fonttype = none`): the browser draws the Korean labels with the
system's fonts, where matplotlib's own DejaVu Sans has no Hangul. Both
are optional (`pip install -e '.[report]'`), so the service stays light;
matplotlib is the smaller of the two to install with what it needs
(numpy), and it is imported only when a report is drawn.

Every function takes the figures it draws and a `say` for the labels,
and returns one `<svg>` element with ids of its own (several sit in one
page).
"""

from __future__ import annotations

import io
import itertools
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

INSTALL_HINT = "pip install -e '.[report]'"
MAX_BARS = 180  # time bins drawn at most: past that, bars thinner than two pixels
FONTS = ["Noto Sans CJK KR", "Apple SD Gothic Neo", "Malgun Gothic", "NanumGothic", "AppleGothic", "DejaVu Sans"]

Say = Callable[..., str]

GREEN, LIGHT_GREEN, RED, GREY = "#2e9d5b", "#9fd8b4", "#d64545", "#9aa3ad"
FILTERED_COLOURS = ["#f0a030", "#f5c26b", "#e07b39", "#f7dca0", "#c8862a", "#eeb48a"]
DROPPED_COLOURS = ["#7f8c99", "#b9c2cb", "#5f6b77", "#d3d8dd"]
TURN_COLOUR = "#3b5bdb"


class ChartsUnavailable(RuntimeError):
    """matplotlib is not installed: the report says how to install it."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ChartsUnavailable(INSTALL_HINT) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "vtuber-report",  # the same archive gives the same page
            "font.family": ["sans-serif"],
            "font.sans-serif": FONTS,
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.color": "#e6e8eb",
            "axes.axisbelow": True,
        }
    )
    return plt


def available() -> bool:
    try:
        _pyplot()
    except ChartsUnavailable:
        return False
    return True


def _svg(fig: Any, name: str) -> str:
    plt = _pyplot()
    buf = io.StringIO()
    with warnings.catch_warnings():
        # Without a Hangul font matplotlib measures Korean with DejaVu Sans and
        # says so per glyph; the browser draws the text, so the warning is noise.
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from")
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)  # licence links: bytes for nobody
    # Several charts share one page: give each its own ids.
    svg = re.sub(r'id="([^"]+)"', rf'id="{name}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{name}-\1"', svg)
    return svg.replace("<svg ", f'<svg class="chart" role="img" aria-label="{name}" ', 1)


NICE_WIDTHS = (10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)  # seconds


def _rebin(
    series: Sequence[tuple[datetime, Counter[str]]], width_s: int
) -> tuple[list[datetime], list[Counter[str]], int]:
    """Bins of a round width (10 s, 1 min, 5 min...), the narrowest that
    keeps the chart under MAX_BARS: (starts, counts, seconds per bin)."""
    if not series:
        return [], [], width_s
    span = (series[-1][0] - series[0][0]).total_seconds() + width_s
    width = next(
        (w for w in NICE_WIDTHS if w >= width_s and w % width_s == 0 and span / w <= MAX_BARS),
        max(width_s, int(span // MAX_BARS) + 1),
    )
    starts: list[datetime] = []
    merged: list[Counter[str]] = []
    current: int | None = None
    for start, counts in series:
        key = int(start.timestamp()) // width
        if key != current:
            current = key
            starts.append(datetime.fromtimestamp(key * width, UTC))
            merged.append(Counter())
        merged[-1].update(counts)
    return starts, merged, width


def per(width_s: int, say: Say) -> str:
    """A bin's width as words: "10 s", "1 min", "2 h"."""
    if width_s % 3600 == 0:
        return say("report.unit_h", n=width_s // 3600)
    if width_s % 60 == 0:
        return say("report.unit_min", n=width_s // 60)
    return say("report.unit_s", n=width_s)


def _time_axis(ax: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=12)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))  # type: ignore[no-untyped-call]


def chat_over_time(
    series: Sequence[tuple[datetime, Counter[str]]],
    *,
    width_s: int,
    categories: Sequence[str],
    label: Callable[[str], str],
    say: Say,
    tz: tzinfo,
) -> str:
    """Messages per bin, stacked by category (answered first), turns as a line above."""
    plt = _pyplot()
    starts, counts, width = _rebin(series, width_s)
    local = [s.astimezone(tz).replace(tzinfo=None) for s in starts]
    fig, ax = plt.subplots(figsize=(11, 3.6))
    bottom = [0] * len(local)
    bar_width = timedelta(seconds=width) * 0.9
    filtered = dropped = 0
    for category in categories:
        if category == "answered":
            colour = GREEN
        elif category == "in_progress":
            colour = LIGHT_GREEN
        elif category.startswith("filtered"):
            colour = FILTERED_COLOURS[filtered % len(FILTERED_COLOURS)]
            filtered += 1
        else:
            colour = RED if category == "dropped:expired" else DROPPED_COLOURS[dropped % len(DROPPED_COLOURS)]
            dropped += 1 if category != "dropped:expired" else 0
        values = [c[category] for c in counts]
        ax.bar(local, values, width=bar_width, bottom=bottom, color=colour, label=label(category), align="edge")
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    turns = [c["turn"] for c in counts]
    twin = ax.twinx()
    twin.plot(
        [t + timedelta(seconds=width / 2) for t in local],
        turns,
        color=TURN_COLOUR,
        linewidth=1.4,
        marker="." if len(local) < 60 else None,
        label=say("report.chart_turns"),
    )
    twin.set_ylabel(say("report.chart_turns_axis", width=per(width, say)), color=TURN_COLOUR)
    twin.tick_params(axis="y", colors=TURN_COLOUR)
    twin.set_ylim(bottom=0, top=max([*turns, 1]) * 1.15)
    twin.grid(False)
    twin.spines["right"].set_visible(True)
    ax.set_ylabel(say("report.chart_messages_axis", width=per(width, say)))
    _time_axis(ax)
    ax.margins(x=0.01, y=0.05)
    handles, labels = ax.get_legend_handles_labels()
    twin_handles, twin_labels = twin.get_legend_handles_labels()
    ax.legend(
        handles + twin_handles,
        labels + twin_labels,
        loc="upper left",
        bbox_to_anchor=(1.06, 1.0),
        frameon=False,
        fontsize=8,
    )
    return _svg(fig, "chart-chat")


WAIT_EDGES = (0, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600)


def wait_bins(waits: Sequence[float]) -> list[int]:
    """How many waits fall in each [edge, next edge) (the last bin open-ended)."""
    counts = [0] * len(WAIT_EDGES)
    for wait in waits:
        index = 0
        for i, edge in enumerate(WAIT_EDGES):
            if wait >= edge:
                index = i
        counts[index] += 1
    return counts


def waiting(per_platform: Sequence[tuple[str, Sequence[float], int]], say: Say) -> str:
    """Per platform, a row of bars: answers by how long they waited, then the expired."""
    plt = _pyplot()
    rows = max(1, len(per_platform))
    fig, axes = plt.subplots(rows, 1, figsize=(11, 1.7 * rows + 0.6), sharex=True, squeeze=False)
    labels = [f"{a}–{b}" for a, b in itertools.pairwise(WAIT_EDGES)] + [f"{WAIT_EDGES[-1]}+"]
    labels.append(say("report.chart_expired"))
    positions = list(range(len(labels)))
    for ax, (platform, waits, expired) in zip(axes[:, 0], per_platform, strict=False):
        counts = wait_bins(waits)
        ax.bar(positions[:-1], counts, color=GREEN, width=0.8)
        ax.bar(positions[-1:], [expired], color=RED, width=0.8)
        ax.set_ylabel(platform, rotation=0, ha="right", va="center")
        ax.set_xticks(positions, labels)
    axes[-1, 0].set_xlabel(say("report.chart_wait_axis"))
    return _svg(fig, "chart-wait")


REPLY_EDGES = (0, 25, 50, 75, 100, 150, 200, 300, 500)


def reply_lengths(lengths: Sequence[int], say: Say) -> str:
    plt = _pyplot()
    counts = [0] * len(REPLY_EDGES)
    for n in lengths:
        index = 0
        for i, edge in enumerate(REPLY_EDGES):
            if n >= edge:
                index = i
        counts[index] += 1
    labels = [f"{a}–{b - 1}" for a, b in itertools.pairwise(REPLY_EDGES)] + [f"{REPLY_EDGES[-1]}+"]
    fig, ax = plt.subplots(figsize=(6, 2.4))
    ax.bar(range(len(labels)), counts, color=TURN_COLOUR, width=0.8)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel(say("report.chart_reply_axis"))
    ax.set_ylabel(say("report.chart_turns"))
    return _svg(fig, "chart-replies")


def service_over_time(
    series: Sequence[tuple[datetime, Counter[str]]],
    *,
    width_s: int,
    quota: Sequence[tuple[datetime, int, int]],
    label: Callable[[str], str],
    say: Say,
    tz: tzinfo,
) -> str:
    """Restarts and reconnects per bin (stacked by source), YouTube quota used as a line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 2.8))
    if series:
        starts, counts, width = _rebin(series, width_s)
        local = [s.astimezone(tz).replace(tzinfo=None) for s in starts]
        kinds = sorted({k for c in counts for k in c})
        bottom = [0] * len(local)
        for i, kind in enumerate(kinds):
            values = [c[kind] for c in counts]
            colour = RED if kind == "restart" else DROPPED_COLOURS[i % len(DROPPED_COLOURS)]
            ax.bar(
                local,
                values,
                width=timedelta(seconds=width) * 0.9,
                bottom=bottom,
                color=colour,
                label=label(kind),
                align="edge",
            )
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_ylabel(say("report.chart_events_axis", width=per(width, say)))
    if quota:
        twin = ax.twinx()
        twin.plot(
            [q[0].astimezone(tz).replace(tzinfo=None) for q in quota],
            [q[1] for q in quota],
            color=TURN_COLOUR,
            linewidth=1.4,
            label=say("report.chart_quota"),
        )
        twin.set_ylim(bottom=0, top=max(q[2] for q in quota) * 1.05)
        twin.set_ylabel(say("report.chart_quota"), color=TURN_COLOUR)
        twin.grid(False)
        twin.spines["right"].set_visible(True)
        handles, labels = twin.get_legend_handles_labels()
        ax_handles, ax_labels = ax.get_legend_handles_labels()
        ax.legend(ax_handles + handles, ax_labels + labels, loc="upper left", frameon=False, fontsize=8)
    elif series:
        ax.legend(loc="upper left", frameon=False, fontsize=8)
    _time_axis(ax)
    return _svg(fig, "chart-service")
