"""The control surface answers only to its own address (actors/control/hosts.py):
a DNS-rebinding page on evil.example that resolves to 127.0.0.1 is refused,
over HTTP and on the WebSocket handshake, against the real server."""

from __future__ import annotations

import json

import httpx
import pytest
import trio
from loopback import free_port, until_listening
from test_control import service_for

from actors.control.hosts import HostPolicy, split_host


@pytest.mark.parametrize(
    ("header", "ok"),
    [("127.0.0.1:12394", True), ("127.0.0.1", True), ("localhost:12394", True), ("LOCALHOST", True),
     ("[::1]:12394", True), ("[::1]", True), ("evil.example", False), ("evil.example:12394", False),
     ("127.0.0.1:80", False), ("localhost:12395", False), ("127.0.0.1.evil.example:12394", False),
     ("localhost.evil.example", False), ("10.0.0.5:12394", False), ("", False), (None, False),
     ("::1", False), ("[::1", False), ("127.0.0.1:", False), ("127.0.0.1:x", False), ("127.0.0.1:12394:1", False)],
)  # fmt: skip
def test_only_our_own_address_is_accepted_on_loopback(header, ok):
    assert HostPolicy("127.0.0.1", 12394).allows(header) is ok


def test_the_configured_host_is_ours_too():
    policy = HostPolicy("mira-pc.lan", 8000)
    assert policy.allows("mira-pc.lan:8000") and policy.allows("Mira-PC.lan")
    assert not policy.allows("mira-pc.lan.evil.example:8000")


def test_bound_to_every_address_any_ip_literal_is_ours_but_no_name():
    """The LAN reaches the machine by its address; an attacker can only rebind a name."""
    for wildcard in ("0.0.0.0", "::"):
        policy = HostPolicy(wildcard, 8000)
        assert policy.allows("192.168.1.20:8000") and policy.allows("[fe80::1]:8000") and policy.allows("localhost")
        assert not policy.allows("evil.example:8000") and not policy.allows("192.168.1.20:9000")


def test_split_host_reads_names_v6_and_ports():
    assert split_host("Example.COM:80") == ("example.com", 80)
    assert split_host("[::1]:5") == ("::1", 5)
    assert split_host("[::1]x") is None


async def _handshake(port: int, host: str) -> bytes:
    """The status line of a WebSocket handshake to /ws carrying `host`."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        request = (
            f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await stream.send_all(request.encode())
        answer = b""
        with trio.fail_after(5):
            while b"\r\n" not in answer:
                chunk = await stream.receive_some()
                if not chunk:
                    break
                answer += chunk
        return answer.split(b"\r\n", 1)[0]


async def test_a_rebound_name_is_refused_over_http_and_websocket_and_ours_is_served(tmp_path):
    port = free_port()
    service, out = service_for(tmp_path, port)  # no token: exactly the case rebinding exploits
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service.run)
        await until_listening(port)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            for path in ("/status", "/", "/healthz", "/chzzk/callback"):
                refused = await client.get(base + path, headers={"Host": f"evil.example:{port}"})
                assert refused.status_code == 421, path
                assert refused.headers["content-type"].startswith("text/plain")
                assert "only to its own address" in refused.text and "received" not in refused.text
            for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
                assert (await client.get(base + "/status", headers={"Host": host})).status_code == 200, host
        assert (await _handshake(port, "evil.example")).startswith(b"HTTP/1.1 421")
        assert (await _handshake(port, f"localhost:{port}")).startswith(b"HTTP/1.1 101")
        service.supervisor.stop()
    refusals = [json.loads(line) for line in out.getvalue().splitlines() if '"control.refused"' in line]
    assert refusals and all(r["host"].startswith("'evil.example") for r in refusals)
