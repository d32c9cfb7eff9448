"""`python -m actors` as a user runs it: a real process, real signals, real output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def fast_config(tmp_path: Path, **overrides: str) -> Path:
    """The shipped config.toml with some settings replaced (same keys, same file)."""
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        key = line.split("=")[0].strip()
        lines.append(f"{key} = {overrides[key]}" if key in overrides and "=" in line else line)
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actors", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=ENGLISH_ENV,
    )


# The console speaks the locale's language (i18n.console_language); these
# tests read its English lines, whatever the machine running them speaks.
ENGLISH_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("YOUTUBE_", "CHZZK_", "LC_", "LANG"))}
ENGLISH_ENV["LANG"] = "C.UTF-8"


def test_check_accepts_the_shipped_config():
    result = run("config.toml", "--check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "config.toml: OK (monitors: replay; session: console)"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "[monitors.youtube]\nmax_retries = 'ten'\n",
            "bad.toml: monitors.youtube.max_retries: expected an integer, got 'ten'",
        ),
        ("[session]\nspeking_time = 1\n", "bad.toml: session.speking_time: unknown setting"),
        (
            '[control]\nenabled = true\nhost = "0.0.0.0"\n',
            "bad.toml: control.token: needed to listen on 0.0.0.0 (beyond this machine anyone could drive the"
            ' service); set one, or CONTROL_TOKEN, or keep host = "127.0.0.1"',
        ),
        (None, "bad.toml: no such file"),
    ],
)
def test_a_config_mistake_is_one_line_and_exit_2(tmp_path, content, expected):
    path = tmp_path / "bad.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run(str(path), "--check")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [expected.replace("bad.toml", str(path))]
    assert "Traceback" not in result.stderr
    result = run(str(path))  # the same without --check
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_help_names_the_options():
    result = run("--help")
    assert result.returncode == 0
    assert "--check" in result.stdout and "--log-format" in result.stdout


def test_the_demo_runs_to_the_end_by_itself(tmp_path):
    """The shipped demo, sped up: exit 0, turns printed, counts that add up."""
    config = fast_config(tmp_path, speed="60.0", speaking_time="0.02", status_interval="0.5")
    result = run(str(config), "--log-format", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1]["event"] == "service.stopped"
    counts = lines[-1]["counts"]
    assert counts["received"] == sum(1 for line in lines if line["event"].startswith("router."))
    filtered, dropped = sum(counts["filtered"].values()), sum(counts["dropped"].values())
    assert counts["received"] == counts["dispatched"] + filtered + dropped + counts["pending"]
    assert counts["filtered"].get("duplicate", 0) >= 1  # the demo's resends
    assert any(line["event"] == "session.turn_started" for line in lines)
    assert any(line["event"] == "service.status" for line in lines[:-2])
    # The text rendering of the same run shows the turns and the final line.
    text = run(str(config))
    assert text.returncode == 0
    assert "session   ▶ [YouTube" in text.stdout
    assert "service   stopped (exit 0): received" in text.stdout.splitlines()[-1]


def test_sigterm_in_the_middle_of_the_demo_exits_zero_with_counts(tmp_path):
    config = fast_config(tmp_path, speed="4.0", speaking_time="0.5", turn_grace="5.0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "actors", str(config), "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    # Wait for real traffic (a few turns), then terminate.
    turns = 0
    seen = []
    while turns < 3:
        line = proc.stdout.readline()
        assert line, "the service ended before it was terminated"
        seen.append(line)
        turns += '"session.turn_started"' in line
    proc.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    out, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - sent
    assert proc.returncode == 0, err[-2000:]
    assert elapsed < 5.0 + 2.0  # within the session's grace, plus process exit
    lines = [json.loads(line) for line in (*seen, *out.splitlines())]
    assert lines[-1]["event"] == "service.stopped"
    counts = lines[-1]["counts"]
    total = counts["dispatched"] + sum(counts["filtered"].values()) + sum(counts["dropped"].values())
    assert counts["received"] == total + counts["pending"]
    assert lines[-1]["balanced"] is True
    assert any(line["event"] == "service.signal" and line["signal"] == "SIGTERM" for line in lines)


# The process as `python -m actors` starts it, but it says "ready" the moment
# its first signal handler is in place, so a test can hit the half second of
# imports and start-up that follows (where a signal used to be lost or fatal).
EARLY = (
    "import sys; import actors.__main__ as m; m.LATCH.install(); print('ready', flush=True); "
    "sys.exit(m.main(sys.argv[1:]))"
)


def start_early(config: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", EARLY, str(config), "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_start_up_stops_gracefully_with_the_final_word(tmp_path, signum):
    proc = start_early(fast_config(tmp_path))
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["event"] == "service.starting"  # it did start, and then stopped on the early signal
    assert any(line["event"] == "service.signal" for line in lines)
    assert lines[-1]["event"] == "service.stopped"
    assert lines[-1]["balanced"] is True


def test_two_signals_during_start_up_stop_at_once_with_130_and_no_traceback(tmp_path):
    proc = start_early(fast_config(tmp_path))
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)  # two signals sent at once may arrive as one (POSIX does not queue them)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Traceback" not in err, err[-2000:]
