"""The router actor: takes events from the monitors' channel, routes each one."""

from __future__ import annotations

import trio

from supervision import ChildContext

from ..chat import ChatEvent, Kind
from ..ledger import Ledger
from .buffer import PendingBuffer
from .filters import RecentIds


class Router:
    """Routing state that outlives router incarnations (like the buffer)."""

    def __init__(self, buffer: PendingBuffer, ledger: Ledger, *, dedupe_ids: int) -> None:
        self.buffer = buffer
        self.ledger = ledger
        self.recent_ids = RecentIds(dedupe_ids)

    def route(self, event: ChatEvent) -> None:
        """Receive one event and give it its first step: filtered, or pending."""
        self.ledger.receive(event)
        try:
            reason = self._filter_reason(event)
        except Exception:
            self.ledger.drop(event, "error")  # the event in hand keeps its fate
            raise
        if reason is not None:
            self.ledger.filter(event, reason)
        else:
            self.buffer.push(event)

    def _filter_reason(self, event: ChatEvent) -> str | None:
        if self.recent_ids.seen_before(event):
            return "duplicate"
        if event.kind is Kind.MODERATION:
            # A moderation event is an instruction, not something to answer:
            # it removes what the moderators removed from what is waiting.
            target = event.target
            if target is not None:
                self.buffer.purge(
                    lambda e: (
                        e.platform is event.platform and (e.id == target.message_id or e.author.id == target.author_id)
                    )
                )
            return "moderation"
        return None

    def drain(self, inbox: trio.MemoryReceiveChannel[ChatEvent]) -> None:
        """Route whatever is waiting in the channel now, without waiting."""
        while True:
            try:
                event = inbox.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return
            self.route(event)

    async def run(self, ctx: ChildContext, inbox: trio.MemoryReceiveChannel[ChatEvent]) -> None:
        inbox = ctx.hold(inbox.clone())
        ctx.started()
        with ctx.cancel_on_stop():
            async for event in inbox:
                self.route(event)
                ctx.set_status(f"{len(self.buffer)} pending")
            # Every monitor is done for good (the demo replay ended): the
            # session still gets what is pending, then the run can end.
            self.buffer.finish_input()
            ctx.set_status("input ended")
