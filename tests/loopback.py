"""Helpers for tests that serve real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket

import httpx
import trio


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until_listening(port: int, *, within: float = 10.0) -> None:
    """Wait until the control surface on `port` answers /healthz."""
    async with httpx.AsyncClient() as client:
        with trio.fail_after(within):
            while True:
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await trio.sleep(0.05)
