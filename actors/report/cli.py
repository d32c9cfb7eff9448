"""`python -m actors report ARCHIVE.jsonl [--log LOG.jsonl] -o report.html`.

Exit codes as the service's: 0 when the page is written, 2 for a usage
mistake the user can fix (no such file, charts not installed, a config
that does not load), each said in one line in the console's language.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import tzinfo
from decimal import Decimal
from pathlib import Path

from ..i18n import console_language, text
from ..router.priority import DEFAULT_RATES
from . import charts
from .entries import read_archive
from .logs import LogTally, read_log
from .page import Page
from .tally import Tally


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m actors report",
        description="Write an after-stream report (one HTML page) from a chat archive.",
    )
    parser.add_argument("archive", type=Path, help="the chat archive ([archive] path), JSON Lines")
    parser.add_argument(
        "--log",
        type=Path,
        help="the status log of the same run (--log-format json), for restarts, reconnects and quota",
    )
    parser.add_argument(
        "-o", "--output", type=Path, help="the HTML file to write (default: the archive's name with .html)"
    )
    parser.add_argument("--config", type=Path, help="the service's config: its currency rates and its language")
    parser.add_argument(
        "--lang", choices=("auto", "ko", "en"), help="the page's language (default: the config's, else the system's)"
    )
    parser.add_argument("--timezone", help="show times in this zone, e.g. Asia/Seoul (default: this computer's)")
    parser.add_argument("--no-charts", action="store_true", help="numbers and tables only (no matplotlib needed)")
    return parser


def build(
    archive: Path,
    *,
    log: Path | None = None,
    language: str = "en",
    tz: tzinfo | None = None,
    rates: Mapping[str, Decimal] = DEFAULT_RATES,
    draw: bool = True,
) -> tuple[str, Tally]:
    """The page's HTML and the tally behind it. Reads each file once, a line at a time."""
    tally = Tally(rates).feed(read_archive(archive))
    log_tally = LogTally().feed(read_log(log)) if log is not None else None
    zone = tz if tz is not None else _local_zone()
    page = Page(tally, log_tally, language=language, tz=zone, source=archive, log_source=log, draw=draw)
    return page.render(), tally


def _local_zone() -> tzinfo:
    from datetime import datetime

    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    setting = args.lang or "auto"
    rates: Mapping[str, Decimal] = DEFAULT_RATES
    if args.config is not None:
        from ..config import ConfigError, load_config

        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(exc.text(console_language("auto", os.environ)), file=sys.stderr)
            return 2
        rates = {**DEFAULT_RATES, **{k: Decimal(str(v)) for k, v in config.router.rates.items()}}
        setting = args.lang or config.service.language
    language = console_language(setting, os.environ)

    def fail(key: str, **params: object) -> int:
        print(text(key, language, **params), file=sys.stderr)
        return 2

    for path in (args.archive, args.log):
        if path is not None and not path.is_file():
            return fail("report.cli_no_file", path=str(path))
    tz: tzinfo | None = None
    if args.timezone:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            tz = ZoneInfo(args.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return fail("report.cli_bad_zone", zone=args.timezone)
    draw = not args.no_charts
    if draw and not charts.available():
        return fail("report.cli_no_matplotlib", command=charts.INSTALL_HINT)
    output = args.output or args.archive.with_suffix(".html")
    try:
        page, tally = build(args.archive, log=args.log, language=language, tz=tz, rates=rates, draw=draw)
        output.write_text(page, encoding="utf-8")
    except OSError as exc:
        return fail("report.cli_io", path=str(exc.filename or output), error=exc.strerror or str(exc))
    print(
        text(
            "report.cli_written",
            language,
            path=str(output),
            n=f"{tally.records:,}",
            skipped=f"{tally.errors:,}",
            kb=f"{len(page.encode('utf-8')) / 1024:,.0f}",
        )
    )
    return 0
