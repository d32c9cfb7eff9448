"""The terminal speaks the streamer's language: what an actor says of itself
and why it failed travel through supervision as a key and its parameters,
and the text log renders them in Korean or English. The JSON log keeps its
English text and its event names (scripts read it)."""

from __future__ import annotations

import io
import json

import trio
from trio.testing import MockClock

from actors.i18n import says, tell
from actors.monitors.common.retry import FatalMonitorError
from actors.statuslog import StatusLog
from supervision import Backoff, ChildContext, ChildSpec, Supervisor, SupervisorSpec


async def talker(ctx: ChildContext) -> None:
    ctx.started()
    tell(ctx, says("status.router_pending", n=3))
    await ctx.stopping.wait()


async def refused(ctx: ChildContext) -> None:
    ctx.started()
    tell(ctx, says("status.chzzk_connecting"))
    raise FatalMonitorError(says("status.chzzk_client_refused"))


async def snapshot_and_log(language: str) -> tuple[dict, str, str]:
    text, machine = io.StringIO(), io.StringIO()
    logs = [StatusLog(text, fmt="text", language=language), StatusLog(machine, fmt="json", language=language)]
    spec = SupervisorSpec(
        id="root",
        intensity=100,
        children=(
            ChildSpec(id="router", target=talker),
            ChildSpec(id="chzzk", target=refused, backoff=Backoff(min_delay=1.0, jitter=0.0, max_failures=1)),
        ),
    )
    sup = Supervisor(spec, hooks=[log.supervision_hook for log in logs])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(5.0)
        tree = sup.snapshot().to_dict()
        counts = {"received": 2, "dispatched": 1, "filtered": {"spam": 1}, "dropped": {}, "pending": 0}
        fields = {"uptime_s": 5.0, "summary": "received 2 = ...", "counts": counts, "balanced": True, "tree": tree}
        for log in logs:
            log.emit("service.status", **fields)
        sup.stop()
    return tree, text.getvalue(), machine.getvalue()


def run(language: str) -> tuple[dict, str, str]:
    return trio.run(snapshot_and_log, language, clock=MockClock(autojump_threshold=0))


def test_statuses_and_errors_reach_the_console_in_korean():
    tree, text, machine = run("ko")
    router, chzzk = tree["children"]
    # The snapshot carries both: the English text, and the key for other readers.
    assert router["status_text"] == "3 pending"
    assert router["status_detail"] == {"key": "status.router_pending", "params": {"n": 3}}
    assert chzzk["last_exit"]["error_detail"] == {"key": "status.chzzk_client_refused", "params": {}}
    assert "router       실행 중" in text and "대기 3개" in text
    assert "마지막 오류: 치지직이 클라이언트 ID나 시크릿을 거부했습니다" in text
    assert "root/chzzk 끝남 (error): 치지직이 클라이언트 ID나 시크릿을 거부했습니다" in text
    assert "받음 2 = 답변 1 + 걸러짐 1 + 버림 0 + 대기 0" in text
    assert "pending" not in text and "refused" not in text
    # The JSON log is for programs: English text, event names, and the key beside it.
    exited = [json.loads(line) for line in machine.splitlines() if '"supervision.child.exited"' in line]
    assert exited[0]["error"].startswith("FatalMonitorError: Chzzk refused the client id or secret")
    assert exited[0]["error_detail"]["key"] == "status.chzzk_client_refused"


def test_the_same_run_in_english_reads_as_before():
    _, text, _ = run("en")
    assert "3 pending" in text and "last error: FatalMonitorError: Chzzk refused the client id" not in text
    assert "last error: Chzzk refused the client id or secret" in text
    assert "received 2 = dispatched 1 + filtered 1 + dropped 0 + pending 0" in text
    assert "router       running" in text


def test_a_retry_line_reads_in_the_console_language():
    from actors.monitors.common.retry import retry_fields
    from actors.session.olv_connection import OlvError, connect_failure

    error = OlvError(connect_failure("ws://127.0.0.1:12393/client-ws", ConnectionRefusedError(), timeout=5.0))
    for language, expected in (
        ("ko", "session   1.8초 뒤 다시 시도 (2번째): ws://127.0.0.1:12393/client-ws에 연결할 수 없습니다"),
        ("en", "session   retry 2 in 1.8 s: cannot connect to ws://127.0.0.1:12393/client-ws"),
    ):
        out = io.StringIO()
        StatusLog(out, language=language).emit("session.retry", "warning", **retry_fields(2, 1.75, error))
        assert expected in out.getvalue(), out.getvalue()


def test_a_signal_and_the_tree_stopping_read_in_korean():
    out = io.StringIO()
    log = StatusLog(out, language="ko")
    log.emit("service.signal", "warning", signal="SIGINT", action="graceful stop")
    log.emit("supervision.supervisor.stopped", supervisor="root", reason="signal:SIGINT", duration_s=5.0)
    text = out.getvalue()
    assert "SIGINT: 정상적으로 멈춥니다" in text and "root 멈춤 (signal:SIGINT), 5.0초 동안 실행" in text
