"""/status lists exactly what its pending count counts: the dashboard once
showed "pending 1" beside "nothing waiting" while OLV had our message and
had not started it (checked out: pending in the ledger, out of the rooms)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import trio
from hypothesis import given
from hypothesis import strategies as st
from test_control import service_for

from actors.chat import Amount, Author, ChatEvent, Kind, Platform
from actors.control.server import status_snapshot
from actors.ledger import Ledger
from actors.router.buffer import PendingBuffer, Picked

AT = datetime(2026, 11, 24, tzinfo=UTC)


def chat(i: int, *, paid: bool = False, at: float | None = None) -> ChatEvent:
    amount = Amount(Decimal(5), "USD", "$5.00") if paid else None
    kind = Kind.DONATION if paid else Kind.CHAT
    return ChatEvent(
        Platform.YOUTUBE,
        f"m{i}",
        kind,
        Author(f"a{i}", f"v{i}"),
        f"hello {i}",
        amount,
        AT,
        received_at=i if at is None else at,
    )


async def test_a_message_handed_to_the_vtuber_is_listed_where_it_is_counted(tmp_path):
    service, _ = service_for(tmp_path, 0)
    for i in range(2):
        service.router.route(chat(i, at=trio.current_time()), trio.current_time())
    handed = service.buffer.checkout(trio.current_time())  # what the OLV session does before the chain-start
    status = status_snapshot(service)
    assert status["service"]["counts"]["pending"] == 2 == len(status["pending"])
    states = {p["id"]: p["state"] for p in status["pending"]}
    assert states[handed[0].event.id] == "starting" and list(states.values()).count("waiting") == 1
    service.buffer.confirm(handed, trio.current_time())  # the turn started: dispatched, no longer listed
    status = status_snapshot(service)
    assert status["service"]["counts"]["pending"] == 1 == len(status["pending"])


async def test_a_paid_message_answered_again_is_shown_apart_from_the_count(tmp_path):
    service, _ = service_for(tmp_path, 0)
    service.router.route(chat(0, paid=True, at=trio.current_time()), trio.current_time())
    taken = service.buffer.take(trio.current_time())
    assert service.buffer.put_back(taken)  # cut off mid-answer: once more, first
    status = status_snapshot(service)
    assert status["service"]["counts"]["pending"] == 0 == len(status["pending"])
    assert [p["id"] for p in status["answering_again"]] == ["m0"]


ops = st.lists(
    st.tuples(st.sampled_from(["push", "push_paid", "checkout", "confirm", "give_back", "put_back", "lose"]),
              st.integers(0, 3)),
    max_size=40,
)  # fmt: skip


@given(ops, st.integers(1, 4))
def test_the_listed_pending_always_equals_the_ledgers_pending(steps, capacity):
    ledger = Ledger()
    buffer = PendingBuffer(capacity, ledger, paid_capacity=2, max_age=5.0)
    out: list[list[Picked]] = []
    dispatched: list[list[Picked]] = []
    for n, (op, k) in enumerate(steps):
        now = float(n)
        if op.startswith("push"):
            ledger.receive(event := chat(n, paid=op == "push_paid"))
            buffer.push(event, now)
        elif op == "checkout" and (picked := buffer.checkout(now, batch=k + 1)):
            out.append(picked)
        elif op in ("confirm", "give_back", "lose") and out:
            picked = out.pop(k % len(out))
            if op == "confirm":
                buffer.confirm(picked, now)
                dispatched.append(picked)
            elif op == "give_back":
                buffer.give_back(picked, now)
            else:
                buffer.lose(picked, "lost")
        elif op == "put_back" and dispatched:
            buffer.put_back(dispatched.pop(k % len(dispatched)))
        assert len(buffer.unfated()) == ledger.pending, (op, ledger.to_dict())
        assert ledger.balanced
    buffer.close()
    assert buffer.unfated() == [] and ledger.pending == 0
