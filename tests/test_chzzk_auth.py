"""The Chzzk token file and refreshes: never half-written, never readable by
others, a refresh token never spent twice, the new pair on disk before use."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from fakes.chzzk import FakeChzzk
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.monitors.chzzk.auth import ChzzkAuth, ChzzkAuthSettings, NeedsAuthorization
from actors.monitors.common.tokens import TokenPair, TokenStore

tokens = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=200)
pairs = st.builds(
    TokenPair,
    access_token=tokens,
    refresh_token=tokens,
    expires_at=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    scope=st.text(max_size=50),
)


@settings(max_examples=50, deadline=None)
@given(first=pairs, second=pairs)
def test_the_store_keeps_the_last_pair_exactly_and_privately(
    tmp_path_factory: Any, first: TokenPair, second: TokenPair
) -> None:
    folder = tmp_path_factory.mktemp("store")
    store = TokenStore(folder / "token.json")
    assert store.load() is None
    old_umask = os.umask(0)  # the loosest umask there is: the file must still be 0600
    try:
        store.save(first)
        store.save(second)
    finally:
        os.umask(old_umask)
    assert store.load() == second
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == ["token.json"]


def test_a_crash_while_writing_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = TokenStore(tmp_path / "token.json")
    old = TokenPair("access-1", "refresh-1", expires_at=1.0)
    store.save(old)

    def torn_dump(data: Any, file: Any) -> None:
        file.write(json.dumps(data)[:10])  # half of it, then the process "dies"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(json, "dump", torn_dump)
    with pytest.raises(OSError, match="No space"):
        store.save(TokenPair("access-2", "refresh-2", expires_at=2.0))
    monkeypatch.undo()
    assert store.load() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["token.json"]


def test_a_damaged_file_is_reported_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    path.write_text('{"accessToken": ')
    with pytest.raises(ValueError, match="not a token file"):
        TokenStore(path).load()


def test_reprs_never_show_tokens() -> None:
    pair = TokenPair("ACCESS-SECRET", "REFRESH-SECRET", expires_at=1.0)
    settings_ = ChzzkAuthSettings(
        client_id="CLIENT-ID",
        client_secret="CLIENT-SECRET",
        token_file=Path("t.json"),
        redirect_uri="http://localhost:12394/chzzk/callback",
        authorize_page="http://localhost:12394/chzzk/auth",
    )
    shown = repr(pair) + repr(settings_)
    for secret in ("ACCESS-SECRET", "REFRESH-SECRET", "CLIENT-SECRET", "CLIENT-ID"):
        assert secret not in shown


@asynccontextmanager
async def granted(tmp_path: Path) -> AsyncIterator[tuple[FakeChzzk, ChzzkAuth, list[tuple[str, str, dict[str, Any]]]]]:
    """The fake serving, and a ChzzkAuth whose token file holds a granted pair."""
    fake = FakeChzzk()
    log: list[tuple[str, str, dict[str, Any]]] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        auth = ChzzkAuth(
            ChzzkAuthSettings(
                client_id=fake.client_id,
                client_secret=fake.client_secret,
                token_file=tmp_path / "token.json",
                redirect_uri="http://localhost:12394/chzzk/callback",
                authorize_page="http://localhost:12394/chzzk/auth",
                api_base_url=fake.base_url,
                auth_url=fake.auth_url,
            ),
            emit=lambda event, level="info", **f: log.append((event, level, f)),
        )
        access, refresh = fake.grant()
        auth.store.save(TokenPair(access, refresh, expires_at=1e12))
        yield fake, auth, log
        nursery.cancel_scope.cancel()


def first_access(auth: ChzzkAuth) -> str:
    stored = auth.store.load()
    assert stored is not None
    return stored.access_token


async def test_concurrent_refreshes_spend_the_refresh_token_once(tmp_path: Path) -> None:
    async with granted(tmp_path) as (fake, auth, _):
        access = first_access(auth)
        got: list[str] = []
        async with httpx.AsyncClient() as client:

            async def ask() -> None:
                got.append(await auth.access_token(client, refresh=True))

            async with trio.open_nursery() as askers:
                for _ in range(5):
                    askers.start_soon(ask)
            assert fake.stats.refreshes == 1 and fake.stats.refresh_reuse == 0
            assert len(set(got)) == 1 and got[0] != access
            # On disk before anyone used it:
            stored = auth.store.load()
            assert stored is not None and stored.access_token == got[0]
            # And a second round spends the new refresh token, not the old one.
            await auth.access_token(client, refresh=True)
            assert fake.stats.refreshes == 2 and fake.stats.refresh_reuse == 0


async def test_a_refused_refresh_clears_the_file_and_names_the_page(tmp_path: Path) -> None:
    async with granted(tmp_path) as (fake, auth, log):
        stored = auth.store.load()
        assert stored is not None
        access, refresh = stored.access_token, stored.refresh_token
        fake.reject_refresh = True
        async with httpx.AsyncClient() as client:
            with pytest.raises(NeedsAuthorization) as caught:
                await auth.access_token(client, refresh=True)
            assert "http://localhost:12394/chzzk/auth" in str(caught.value)
            assert not auth.store.path.exists()
            with pytest.raises(NeedsAuthorization):  # and no further call is made
                await auth.access_token(client)
        assert fake.stats.refreshes == 0
        assert all(refresh not in repr(f) and access not in repr(f) for _, _, f in log)


async def test_an_unwritable_file_keeps_the_new_pair_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with granted(tmp_path) as (_, auth, log):
        access = first_access(auth)

        def full_disk(pair: TokenPair) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(auth.store, "save", full_disk)
        async with httpx.AsyncClient() as client:
            fresh = await auth.access_token(client, refresh=True)
            assert fresh != access
            # The old refresh token is spent; the in-memory pair is the live one.
            assert await auth.access_token(client) == fresh
        assert [e for e, level, _ in log if level == "error"] == ["chzzk.token_file_unwritable"]
