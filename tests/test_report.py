"""The after-stream report: every number it shows is a count over the archive.

The oracle below recomputes each figure from the raw records with plain
loops, written from the definitions (actors/report/tally.py's docstring),
not from the report's code; the test then reads every `data-fig` of the
page and holds it to the oracle: a wrong figure, a missing one or one the
oracle does not know all fail.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given
from strategies import archive_lines, status_log_lines

from actors.report.cli import build

REPO = Path(__file__).resolve().parent.parent
RATES = {"USD": Decimal(1), "KRW": Decimal("0.00072"), "JPY": Decimal("0.0067"), "EUR": Decimal("1.08")}
FIGURE = re.compile(r'data-fig="([^"]+)">([^<]*)<')


def figures_of(page: str) -> dict[str, str]:
    """Each figure's key and text; a key shown twice must show the same."""
    found: dict[str, str] = {}
    for key, shown in FIGURE.findall(page):
        assert found.setdefault(key, shown) == shown, f"{key} shows {found[key]!r} and {shown!r}"
    return found


def n(value: int) -> str:
    return f"{value:,}"


def nearest_rank(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


def shown(value: float | None, places: int) -> str:
    return "–" if value is None else f"{value:,.{places}f}"


def expected_figures(records: list[dict[str, Any]], skipped: int, log: list[dict[str, Any]] | None) -> dict[str, str]:
    """Every figure the page should show, from the raw records."""
    out: dict[str, str] = {}
    answered = [r for r in records if r["fate"] == "dispatched" and "turn" in r]
    in_progress = [r for r in records if r["fate"] == "dispatched" and "turn" not in r]

    def category(r: dict[str, Any]) -> str:
        if r["fate"] == "dispatched":
            return "answered" if "turn" in r else "in_progress"
        return f"{r['fate']}:{r['reason']}"

    out["records"] = n(len(records))
    for cat, count in Counter(category(r) for r in records).items():
        out[f"cat.{cat}"] = n(count)
    out["fate.answered"] = n(len(answered))
    out["fate.filtered"] = n(sum(r["fate"] == "filtered" for r in records))
    out["fate.dropped"] = n(sum(r["fate"] == "dropped" for r in records))
    if in_progress:
        out["fate.in_progress"] = n(len(in_progress))
    for fate in ("filtered", "dropped"):
        for reason, count in Counter(r["reason"] for r in records if r["fate"] == fate).items():
            out[f"{fate}.{reason}"] = n(count)

    # paid
    paid = [r for r in records if r["amount"] is not None]
    out["paid.count"] = n(len(paid))
    out["paid.answered"] = n(sum(1 for r in paid if r in answered))
    out["paid.not_answered"] = n(sum(1 for r in paid if r not in answered))
    usd = sum(
        (Decimal(r["amount"]["value"]) * RATES[r["amount"]["currency"]] for r in paid if r["amount"]["currency"] in RATES),
        Decimal(0),
    )
    out["paid.usd"] = f"${usd:,.2f}"
    unpriced = sum(1 for r in paid if r["amount"]["currency"] not in RATES)
    if unpriced:
        out["paid.unpriced"] = n(unpriced)
    for code in {r["amount"]["currency"] for r in paid}:
        total = sum((Decimal(r["amount"]["value"]) for r in paid if r["amount"]["currency"] == code), Decimal(0))
        exponent = total.normalize().as_tuple().exponent
        places = min(2, -exponent) if isinstance(exponent, int) and exponent < 0 else 0
        out[f"paid.currency.{code}"] = f"{total:,.{places}f}"
        out[f"paid.currency_count.{code}"] = n(sum(1 for r in paid if r["amount"]["currency"] == code))

    # viewers: everyone but the moderators' actions
    chat = [(i, r) for i, r in enumerate(records) if r["kind"] != "moderation"]
    people: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
    for i, r in chat:
        people.setdefault((r["platform"], r["author"]["id"]), []).append((i, r))
    out["viewers.chatted"] = n(len(people))
    out["viewers.answered"] = n(sum(1 for said in people.values() if any(r in answered for _, r in said)))
    firsts = [min(said, key=lambda ir: (ir[1]["sent_at"], ir[0]))[1] for said in people.values()]
    out["viewers.first_answered"] = n(sum(1 for r in firsts if r in answered))
    activity = sorted(
        ((len(said), sum(1 for _, r in said if r in answered)) for said in people.values()),
        key=lambda pair: (-pair[0], -pair[1]),
    )
    for rank, (messages, got) in enumerate(activity[:10]):
        out[f"viewers.top.{rank}.messages"] = n(messages)
        out[f"viewers.top.{rank}.answered"] = n(got)

    # waiting, per platform that answered or let a message expire
    for platform in {r["platform"] for r in records if r in answered or category(r) == "dropped:expired"}:
        mine = [r for r in answered if r["platform"] == platform]
        waits = [float(r["wait_s"]) for r in mine if isinstance(r.get("wait_s"), int | float)]
        out[f"wait.{platform}.answered"] = n(len(mine))
        out[f"wait.{platform}.expired"] = n(
            sum(1 for r in records if r["platform"] == platform and category(r) == "dropped:expired")
        )
        out[f"wait.{platform}.p50"] = shown(nearest_rank(waits, 0.5), 1)
        out[f"wait.{platform}.p90"] = shown(nearest_rank(waits, 0.9), 1)
        out[f"wait.{platform}.max"] = shown(max(waits) if waits else None, 1)

    # the session: a turn is an answer that is not one more asker of a crowd
    turns = [r for r in answered if "merged_into" not in r]
    out["session.turns"] = n(len(turns))
    for outcome, count in Counter(r["turn"]["outcome"] for r in turns).items():
        out[f"outcome.{outcome}"] = n(count)
    lengths = [len(r["reply"]) for r in turns if r["reply"]]
    out["reply.count"] = n(len(lengths))
    for key, share in (("p50", 0.5), ("p90", 0.9)):
        rank = nearest_rank(lengths, share)
        out[f"reply.{key}"] = "–" if rank is None else n(int(rank))
    out["reply.max"] = n(max(lengths)) if lengths else "–"

    if skipped:
        out["skipped"] = n(skipped)
    if log is not None:
        restarts = Counter(e["child"] for e in log if e["event"] == "supervision.child.restart_scheduled")
        reconnects = Counter(e["event"].removesuffix(".retry") for e in log if e["event"].endswith(".retry"))
        gave_up = Counter(e["child"] for e in log if e["event"] == "supervision.child.gave_up")
        out["log.restarts"] = n(sum(restarts.values()))
        out["log.reconnects"] = n(sum(reconnects.values()))
        out |= {f"log.restarts.{k}": n(v) for k, v in restarts.items()}
        out |= {f"log.reconnects.{k}": n(v) for k, v in reconnects.items()}
        out |= {f"log.gave_up.{k}": n(v) for k, v in gave_up.items()}
        quotas = [quota_in(e["tree"]) for e in log if e["event"] == "service.status"]
        exceeded = sum(1 for e in log if e["event"] == "youtube.quota_exceeded")
        if quotas or exceeded:
            out["log.quota_max"] = n(max(q["used"] for q in quotas)) if quotas else "–"
            out["log.quota_daily"] = n(quotas[-1]["daily"]) if quotas else "–"
            out["log.quota_exceeded"] = n(exceeded)
    return out


def quota_in(tree: dict[str, Any]) -> dict[str, int]:
    youtube = tree["children"][0]["children"]["children"][0]["status_detail"]
    return youtube["params"]["quota"]["params"] if "quota" in youtube["params"] else youtube["params"]


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


@given(archive_lines(), status_log_lines())
def test_every_number_in_the_report_is_a_count_over_the_archive(tmp_path_factory, drawn, log):
    records, lines = drawn
    folder = tmp_path_factory.mktemp("report")
    archive, log_file = folder / "archive.jsonl", folder / "log.jsonl"
    write_lines(archive, lines)
    write_lines(log_file, [json.dumps(e).encode() for e in log])
    skipped = sum(1 for line in lines if line.strip()) - len(records)
    for language in ("en", "ko"):
        with_log = language == "ko"  # both ways, without doubling the examples
        page, _ = build(archive, log=log_file if with_log else None, language=language, rates=RATES, draw=False)
        assert figures_of(page) == expected_figures(records, skipped, log if with_log else None)
        assert "<script" not in page  # a viewer's "<script>" is text on the page, never markup
        assert "<b>bold</b>" not in page


def test_the_demo_archive_report_with_charts(tmp_path):
    """A hand-written archive through the real command, charts and all, in Korean."""
    start = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    records = [
        {
            "platform": "chzzk",
            "id": f"c{i}",
            "kind": "donation" if i % 7 == 0 else "chat",
            "author": {"id": f"u{i % 5}", "name": f"시청자{i % 5}", "roles": []},
            "text": "안녕하세요",
            "amount": {"value": "1000", "currency": "KRW", "display": "₩1,000"} if i % 7 == 0 else None,
            "sent_at": start.replace(second=i % 60, minute=i // 60).isoformat().replace("+00:00", "Z"),
            "fate": ["dispatched", "filtered", "dropped"][i % 3],
            "reason": [None, "rate_limit", "expired"][i % 3],
            "score": None,
            "reply": None,
        }
        for i in range(90)
    ]
    for r in records:
        if r["fate"] == "dispatched":
            r["turn"] = {"outcome": "ended", "timeline": {"started": r["sent_at"]}}
            r["wait_s"] = 0.0
            r["reply"] = "고마워요!"
    archive = tmp_path / "archive.jsonl"
    write_lines(archive, [json.dumps(r, ensure_ascii=False).encode() for r in records])
    out = tmp_path / "report.html"
    run = subprocess.run(
        [sys.executable, "-m", "actors", "report", str(archive), "-o", str(out), "--lang", "ko"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "메시지 90개" in run.stdout
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") == 3  # chat over time, waiting, reply lengths (no log: no service chart)
    for fetches in ("src=", "<link", "url(http", 'href="http', "@import"):
        assert fetches not in page  # nothing to fetch when it opens
    assert figures_of(page)["paid.not_answered"] == "8"
    assert '<tr class="unanswered">' in page
    assert "방송 후 리포트" in page


def test_a_missing_archive_is_one_clear_line(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "actors", "report", str(tmp_path / "nope.jsonl"), "--lang", "en"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == f"{tmp_path / 'nope.jsonl'}: no such file"
