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
        """Give one newly received event its first step: filtered, or pending."""
        if self.recent_ids.seen_before(event):
            self.ledger.filter(event, "duplicate")
        elif event.kind is Kind.MODERATION:
            # A moderation event is an instruction, not something to answer:
            # it removes what the moderators removed from what is waiting.
            target = event.target
            if target is not None:
                self.buffer.purge(
                    lambda e: (
                        e.platform is event.platform and (e.id == target.message_id or e.author.id == target.author_id)
                    )
                )
            self.ledger.filter(event, "moderation")
        else:
            self.buffer.push(event)

    async def run(self, ctx: ChildContext, inbox: trio.MemoryReceiveChannel[ChatEvent]) -> None:
        inbox = ctx.hold(inbox.clone())
        ctx.started()
        with ctx.cancel_on_stop():
            async for event in inbox:
                self.route(event)
                ctx.set_status(f"{len(self.buffer)} pending")
        if not ctx.stopping.is_set():
            # Every monitor is done (the demo replay ended): keep serving the
            # session until the buffer is empty, unless a stop comes first.
            ctx.set_status(f"input ended; draining {len(self.buffer)} pending")
            with ctx.cancel_on_stop():
                await self.buffer.wait_empty()
        # Whatever the monitors managed to send before they stopped is
        # received and accounted for, so the final counts cover everything.
        while True:
            try:
                self.route(inbox.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                break
        self.buffer.close("shutdown")
        ctx.set_status("done")
