"""Who is connected to the control WebSocket, and what is pushed to them.

Publishing never waits: each client has a bounded queue, and a client too
slow to keep up (a browser tab in the background) is dropped rather than
allowed to slow down the router, whose ledger listeners publish fates.
"""

from __future__ import annotations

from typing import Any

import trio

QUEUE_SIZE = 512


class Client:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self.send, self.receive = trio.open_memory_channel[dict[str, Any]](QUEUE_SIZE)
        self.dropped = False

    def put(self, message: dict[str, Any]) -> None:
        """Queue a message for this client only (a reply)."""
        try:
            self.send.send_nowait(message)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            self.dropped = True
            self._hub.disconnect(self)


class Hub:
    def __init__(self) -> None:
        self._clients: set[Client] = set()

    def __len__(self) -> int:
        return len(self._clients)

    def connect(self) -> Client:
        client = Client(self)
        self._clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        self._clients.discard(client)
        client.send.close()

    def publish(self, message: dict[str, Any]) -> None:
        for client in list(self._clients):
            client.put(message)
