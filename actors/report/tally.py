"""The report's numbers: one pass over the archive into counters of bounded size.

Every figure the page shows is a count, a sum or a nearest-rank percentile
over the archive's records, defined here and nowhere else (the property
test recomputes each from the raw lines). What memory holds:

- counters keyed by fate and reason, platform, currency, outcome;
- chat over time, in bins of ten seconds that widen (twenty, forty...)
  when a file spans more than MAX_BINS of them, so a record dated in 1970
  beside one from tonight costs a few bins, not fifty years of minutes;
- one small row per viewer (`Viewer`): the only thing that grows with the
  audience rather than with the archive, because "how many chatted" and
  "answered on their first message" are exact counts of distinct people;
- the waits and the reply lengths, as packed arrays (8 and 4 bytes each);
- at most MAX_PAID_ROWS paid messages to list (every paid message is
  still counted and summed) and SAMPLES messages per filter reason.

Definitions, as the page states them:
- answered: dispatched, and its turn was written (`turn` in the record);
  in progress: dispatched without a turn (speaking when the service stopped);
- a viewer: an author (platform, id) of any record that is not a
  moderation action; answered: one of their messages was answered;
  answered first time: their earliest message (by posting time, then by
  position in the file) was answered;
- a turn: an answered message that is not another asker of a crowd
  (`merged_into`); its outcome and reply are the turn's;
- a wait: `wait_s` of an answered message (posted -> the answer started);
  expired: dropped with reason `expired` (never answered in time);
- paid: a record with an amount; in USD at the router's rates.
"""

from __future__ import annotations

import random
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal

import attrs

from ..chat import Kind
from ..records import RecordError
from ..router.priority import DEFAULT_RATES, usd_value
from ..timeline import percentile
from .entries import Entry

MAX_BINS = 4096  # time bins kept before they widen: 11 hours of ten seconds
MAX_PAID_ROWS = 1000  # per list (answered, not answered): a night has tens, a hostile file millions
SAMPLES = 5  # messages shown per filter reason
KEPT_ERRORS = 5  # unreadable lines named on the page; all of them are counted


@attrs.define(slots=True)
class Viewer:
    name: str
    messages: int = 0
    answered: int = 0
    first_at: float = float("inf")  # posting time (epoch seconds) of their earliest message
    first_answered: bool = False


@attrs.frozen(slots=True)
class PaidRow:
    at: datetime
    platform: str
    name: str
    display: str
    value: Decimal
    currency: str
    usd: Decimal | None
    answered: bool
    started: datetime | None
    wait_s: float | None
    fate: str  # answered, in_progress, filtered:<r>, dropped:<r>
    text: str
    reply: str | None


@attrs.frozen(slots=True)
class Sample:
    at: datetime
    platform: str
    name: str
    text: str


class TimeBins:
    """Counts per time bin of `width` seconds (ten at first), widening to stay under MAX_BINS.

    Ten seconds, so that the demo's three minutes still draw as a chart;
    the chart merges bins into minutes (or more) for a longer stream.
    """

    def __init__(self, width: int = 10) -> None:
        self.width = width  # seconds
        self.bins: dict[int, Counter[str]] = {}

    def add(self, moment: datetime, category: str, n: int = 1) -> None:
        second = int(moment.timestamp() // 1)
        key = second // self.width
        counts = self.bins.get(key)
        if counts is None:
            if len(self.bins) >= MAX_BINS:
                self._widen()
                key = second // self.width
            counts = self.bins.setdefault(key, Counter())
        counts[category] += n

    def _widen(self) -> None:
        while len(self.bins) >= MAX_BINS:
            self.width *= 2
            merged: dict[int, Counter[str]] = {}
            for key, counts in self.bins.items():
                merged.setdefault(key // 2, Counter()).update(counts)
            self.bins = merged

    def series(self) -> list[tuple[datetime, Counter[str]]]:
        """(start of bin, counts) in time order, empty bins between included
        (unless the gaps are so wide that only the filled ones make sense)."""
        if not self.bins:
            return []
        first, last = min(self.bins), max(self.bins)
        span = range(first, last + 1) if last - first <= 4 * MAX_BINS else sorted(self.bins)
        return [(datetime.fromtimestamp(key * self.width, UTC), self.bins.get(key, Counter())) for key in span]


class Tally:
    """Counters over an archive, fed one entry (or unreadable line) at a time."""

    def __init__(self, rates: Mapping[str, Decimal] = DEFAULT_RATES, seed: int = 0) -> None:
        self.rates = rates
        self.records = 0
        self.errors = 0
        self.error_samples: list[RecordError] = []
        self.categories: Counter[str] = Counter()
        self.by_platform: Counter[str] = Counter()
        self.chat = TimeBins()  # category per bin, plus "turn" for turns started
        self.first: datetime | None = None
        self.last: datetime | None = None
        # paid
        self.paid = 0
        self.paid_answered = 0
        self.paid_usd = Decimal(0)
        self.paid_unpriced = 0  # a currency the rates do not know
        self.paid_sums: dict[str, Decimal] = {}  # by currency code
        self.paid_counts: Counter[str] = Counter()
        self.paid_rows: dict[bool, list[PaidRow]] = {True: [], False: []}
        # viewers
        self.viewers: dict[tuple[str, str], Viewer] = {}
        # waits
        self.waits: dict[str, array[float]] = {}
        self.answered_by_platform: Counter[str] = Counter()
        self.expired_by_platform: Counter[str] = Counter()
        # session
        self.turns = 0
        self.outcomes: Counter[str] = Counter()
        self.reply_lengths: array[int] = array("I")
        # filters
        self.samples: dict[str, list[Sample]] = {}
        self._seen_by_reason: Counter[str] = Counter()
        self._random = random.Random(seed)

    def feed(self, items: Iterable[Entry | RecordError]) -> Tally:
        for item in items:
            if isinstance(item, RecordError):
                self.errors += 1
                if len(self.error_samples) < KEPT_ERRORS:
                    self.error_samples.append(item)
            else:
                self.add(item)
        return self

    def add(self, entry: Entry) -> None:
        event = entry.event
        platform = event.platform.value
        category = entry.category
        self.records += 1
        self.categories[category] += 1
        self.by_platform[platform] += 1
        sent = event.sent_at
        if self.first is None or sent < self.first:
            self.first = sent
        if self.last is None or sent > self.last:
            self.last = sent
        self.chat.add(sent, category)
        if entry.answered and not entry.asker:
            self._turn(entry)
        if event.amount is not None:
            self._paid(entry)
        if event.kind is not Kind.MODERATION:
            self._viewer(entry, platform)
        if entry.answered:
            self.answered_by_platform[platform] += 1
            if entry.wait_s is not None:
                self.waits.setdefault(platform, array("d")).append(entry.wait_s)
        elif category == "dropped:expired":
            self.expired_by_platform[platform] += 1
        if entry.fate == "filtered":
            self._sample(entry, platform)

    def _turn(self, entry: Entry) -> None:
        self.turns += 1
        self.outcomes[entry.outcome or "unknown"] += 1
        if entry.reply:
            self.reply_lengths.append(len(entry.reply))
        if entry.started is not None:
            self.chat.add(entry.started, "turn")

    def _paid(self, entry: Entry) -> None:
        amount = entry.event.amount
        assert amount is not None
        self.paid += 1
        if entry.answered:
            self.paid_answered += 1
        usd = usd_value(amount, self.rates)
        if usd is None:
            self.paid_unpriced += 1
        else:
            self.paid_usd += usd
        self.paid_sums[amount.currency] = self.paid_sums.get(amount.currency, Decimal(0)) + amount.value
        self.paid_counts[amount.currency] += 1
        rows = self.paid_rows[entry.answered]
        if len(rows) < MAX_PAID_ROWS:
            event = entry.event
            rows.append(
                PaidRow(
                    at=event.sent_at,
                    platform=event.platform.value,
                    name=event.author.name,
                    display=amount.display,
                    value=amount.value,
                    currency=amount.currency,
                    usd=usd,
                    answered=entry.answered,
                    started=entry.started,
                    wait_s=entry.wait_s,
                    fate=entry.category,
                    text=event.text,
                    reply=entry.reply,
                )
            )

    def _viewer(self, entry: Entry, platform: str) -> None:
        author = entry.event.author
        key = (platform, author.id)
        viewer = self.viewers.get(key)
        if viewer is None:
            viewer = self.viewers[key] = Viewer(author.name)
        viewer.messages += 1
        if entry.answered:
            viewer.answered += 1
        at = entry.event.sent_at.timestamp()
        if at < viewer.first_at:  # ties: the first in the file stays first
            viewer.first_at = at
            viewer.first_answered = entry.answered
            viewer.name = author.name  # the name they had then

    def _sample(self, entry: Entry, platform: str) -> None:
        """Reservoir sampling: SAMPLES messages spread over the whole night,
        not its first minutes (the same ones for the same file)."""
        reason = entry.reason or "unknown"
        self._seen_by_reason[reason] += 1
        seen = self._seen_by_reason[reason]
        kept = self.samples.setdefault(reason, [])
        event = entry.event
        sample = Sample(event.sent_at, platform, event.author.name, event.text)
        if len(kept) < SAMPLES:
            kept.append(sample)
        elif (slot := self._random.randrange(seen)) < SAMPLES:
            kept[slot] = sample

    # ---- what the page reads ------------------------------------------------

    def count(self, prefix: str) -> int:
        """Records whose category is `prefix` or starts with `prefix:`."""
        return sum(n for c, n in self.categories.items() if c == prefix or c.startswith(prefix + ":"))

    def reasons(self, fate: str) -> list[tuple[str, int]]:
        """(reason, count) of a fate, most first."""
        found = [(c.partition(":")[2], n) for c, n in self.categories.items() if c.startswith(fate + ":")]
        return sorted(found, key=lambda item: (-item[1], item[0]))

    def viewer_figures(self) -> dict[str, int]:
        viewers = self.viewers.values()
        return {
            "chatted": len(self.viewers),
            "answered": sum(1 for v in viewers if v.answered),
            "first_answered": sum(1 for v in viewers if v.first_answered),
        }

    def top_viewers(self, n: int = 10) -> list[tuple[str, str, Viewer]]:
        """The most active: most messages, then most answered, then by name."""
        ranked = sorted(self.viewers.items(), key=lambda kv: (-kv[1].messages, -kv[1].answered, kv[1].name, kv[0]))
        return [(platform, author_id, viewer) for (platform, author_id), viewer in ranked[:n]]

    def wait_figures(self) -> dict[str, dict[str, float | int | None]]:
        """Per platform with an answer or an expiry: counts and nearest-rank percentiles."""
        out: dict[str, dict[str, float | int | None]] = {}
        for platform in sorted(set(self.answered_by_platform) | set(self.expired_by_platform)):
            waits = self.waits.get(platform, array("d"))
            out[platform] = {
                "answered": self.answered_by_platform[platform],
                "expired": self.expired_by_platform[platform],
                "p50": percentile(waits, 0.5),
                "p90": percentile(waits, 0.9),
                "max": max(waits) if waits else None,
            }
        return out

    def reply_figures(self) -> dict[str, int | None]:  # lengths are whole characters
        lengths = self.reply_lengths
        return {
            "replies": len(lengths),
            "p50": _whole(percentile(lengths, 0.5)),
            "p90": _whole(percentile(lengths, 0.9)),
            "max": max(lengths) if lengths else None,
        }

    def paid_list(self) -> list[PaidRow]:
        """The paid messages kept, in posting order."""
        return sorted(self.paid_rows[True] + self.paid_rows[False], key=lambda row: (row.at, row.platform, row.name))

    @property
    def paid_not_listed(self) -> int:
        return self.paid - sum(len(rows) for rows in self.paid_rows.values())


def _whole(value: float | None) -> int | None:
    return None if value is None else int(value)
