"""`python -m actors config.toml`: parse the command line, load the config,
run the service, and map the outcome to an exit code. Nothing else.

Exit codes: 0 after a stop (one signal, two signals, or the replay ended
and was spoken); 1 when the supervision tree or the monitors gave up; 2 for a
config or usage mistake, reported as one line naming the setting; 130 when an
interrupt came before the service could handle it (during start-up).

`python -m actors report ARCHIVE.jsonl ...` is another command: the
after-stream report (actors/report/cli.py), with Python's own Ctrl-C.

A config mistake is told in the console's language: `[service] language`
if the file says so (read leniently: the file may be what is broken), else
the locale (i18n.console_language).
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from functools import partial
from pathlib import Path

# Installed first thing, before the slow imports (Trio, httpx, the web stack
# take half a second, done inside main()): from here on a signal is never
# lost and never kills the process without a final word (signal_latch.py).
from .signal_latch import SignalLatch

LATCH = SignalLatch()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m actors",
        description="Feed YouTube and Chzzk live chat to an AI VTuber, as supervised Trio actors.",
    )
    parser.add_argument("config", type=Path, help="the TOML config file (see README: config reference)")
    parser.add_argument("--check", action="store_true", help="validate the config and exit (0 if it is fine)")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="status log on stdout: lines for people (text) or one JSON object per line (json)",
    )
    return parser


def _language_setting(path: Path) -> str:
    """`[service] language` as the file says it, or "auto" if the file
    cannot say (missing, not TOML, no such setting, not one we know)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
    except Exception:  # whatever is wrong with the file, the loader says it; here it only means "auto"
        return "auto"
    service = data.get("service")
    language = service.get("language") if isinstance(service, dict) else None
    return language if language in ("auto", "ko", "en") else "auto"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:  # `python -m actors report ARCHIVE ...`: not the service
        LATCH.release()
        from .report.cli import main as report

        try:
            return report(argv[1:])
        except KeyboardInterrupt:
            return 130
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return 130  # a second signal before the service could take it: stop at once, quietly


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    import trio

    from .app import Service
    from .config import ConfigError, load_config, secret_values
    from .i18n import console_language, text
    from .statuslog import StatusLog

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc.text(console_language(_language_setting(args.config), os.environ)), file=sys.stderr)
        return 2
    language = console_language(config.service.language, os.environ)
    if args.check:
        enabled = (["replay"] if config.monitors.replay.enabled else []) + config.monitors.enabled()
        ok = text(
            "config.check_ok", language, file=str(args.config), monitors=", ".join(enabled), session=config.session.kind
        )
        print(ok)
        return 0
    log = StatusLog(fmt=args.log_format, redact=secret_values(config), language=language)
    service = Service(config, log)
    try:
        return trio.run(partial(service.run, caught=LATCH.caught))
    except KeyboardInterrupt:
        return 130
    except BaseExceptionGroup as group:
        if group.subgroup(KeyboardInterrupt) is not None and group.subgroup(Exception) is None:
            return 130
        raise


if __name__ == "__main__":
    LATCH.install()
    sys.exit(main())
