"""A platform account's OAuth tokens, kept in one file that outlives restarts.

Chzzk's and Twitch's refresh tokens are single-use: the moment the server
answers a refresh, the old refresh token is dead and the new one exists only
in that answer. So a new pair is written to disk *before* anyone uses it,
atomically (temp file, fsync, rename, fsync the folder), so a crash or a
power cut leaves either the old file or the new one, never half of either,
and never a file someone else can read (mode 0600 from the first byte).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import trio

from ...i18n import Said, says


class DamagedTokens(ValueError):
    """A token file (or its JSON) that is not a token pair."""


@attrs.frozen
class TokenPair:
    """An OAuth token pair as stored on disk. The tokens stay out of reprs,
    so a log line or a traceback never shows them."""

    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    expires_at: float  # unix seconds (wall clock): tokens outlive restarts
    token_type: str = "Bearer"
    scope: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "token_type": self.token_type,
            "scope": self.scope,
        }

    @classmethod
    def from_json(cls, data: object) -> TokenPair:
        """The inverse of to_json; DamagedTokens when anything is missing or wrong."""
        if not isinstance(data, Mapping):
            raise DamagedTokens("token data is not an object")
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
            raise DamagedTokens("token data has no access_token or refresh_token")
        expires_at = data.get("expires_at")
        if not isinstance(expires_at, int | float) or isinstance(expires_at, bool) or not math.isfinite(expires_at):
            raise DamagedTokens("token data has no expires_at")
        token_type, scope = data.get("token_type", "Bearer"), data.get("scope", "")
        if not isinstance(token_type, str) or not isinstance(scope, str):
            raise DamagedTokens("token data has a token_type or scope that is not a string")
        return cls(access, refresh, float(expires_at), token_type, scope)


class TokenStore:
    """One JSON file holding the current token pair, never half-written or world-readable."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> TokenPair | None:
        """The stored pair; None when there is none. A damaged file is
        reported (ValueError naming the file) rather than silently ignored."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return TokenPair.from_json(json.loads(raw))
        except ValueError as exc:  # bad JSON, or DamagedTokens
            raise ValueError(f"{self.path}: not a token file ({type(exc).__name__})") from None

    def save(self, pair: TokenPair) -> None:
        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file 0600 and exclusively: nobody can open it
        # between its creation and the rename, and no umask loosens it.
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(pair.to_json(), file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, self.path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
        _fsync_folder(folder)

    def clear(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        _fsync_folder(self.path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make a rename or unlink durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class TokenKeeper:
    """One platform account's tokens for a run: what Chzzk's and Twitch's
    auth share. The pair is read from its file on first use (a damaged or
    unreadable file is a `problem` for the status, never a crash), written
    back before it is used (`keep`), and one lock serialises whatever spends
    a single-use refresh token or code. `signed_in()` wakes whoever waits for
    a new pair (a monitor waiting for the streamer's login).

    `texts` names the catalogue keys of the two file problems: `damaged` and
    `unreadable` (with {error})."""

    def __init__(
        self,
        platform: str,
        store: TokenStore,
        *,
        emit: Callable[..., None],
        wall: Callable[[], float],
        texts: Mapping[str, str],
    ) -> None:
        self.platform = platform
        self.store = store
        self.emit = emit
        self.wall = wall
        self._texts = texts
        self._pair: TokenPair | None = None
        self._loaded = False
        self._lock = trio.Lock()
        self._signed_in = trio.Event()
        self.problem: Said | None = None  # why a login is needed, for the status

    @property
    def has_token(self) -> bool:
        return self._current() is not None

    @property
    def expires_at(self) -> float | None:
        pair = self._current()
        return None if pair is None else pair.expires_at

    def status_fields(self) -> dict[str, Any]:
        """The login's part of a platform's /status box."""
        expires_at = self.expires_at
        return {
            "authorized": self.has_token,
            "problem": None if self.problem is None else str(self.problem),
            "problem_detail": None if self.problem is None else self.problem.to_dict(),
            "token_expires_in_s": None if expires_at is None else round(expires_at - self.wall()),
        }

    async def signed_in(self) -> None:
        """Wait until a new pair has been stored by a login."""
        await self._signed_in.wait()

    def _announce_sign_in(self) -> None:
        self.problem = None
        self._signed_in.set()
        self._signed_in = trio.Event()

    def _current(self) -> TokenPair | None:
        if not self._loaded:
            self._loaded = True
            try:
                self._pair = self.store.load()
            except ValueError as exc:
                self.problem = says(self._texts["damaged"])
                self.emit(f"{self.platform}.token_file_damaged", "error", error=str(exc))
            except OSError as exc:
                self.problem = says(self._texts["unreadable"], error=str(exc.strerror))
                self.emit(f"{self.platform}.token_file_unreadable", "error", error=f"{exc.strerror}: {self.store.path}")
        return self._pair

    def _keep(self, pair: TokenPair, *, why: str, **fields: str) -> None:
        """Persist first, then use: the old refresh token (or the code) is already spent."""
        try:
            # On the actors' thread, on purpose: a few milliseconds of fsync
            # once a day cost less than a thread hop that lets the tests'
            # MockClock jump past ping and connect deadlines meanwhile.
            self.store.save(pair)
        except OSError as exc:
            # Keep the pair in memory anyway: it is the only live one now.
            self.emit(
                f"{self.platform}.token_file_unwritable",
                "error",
                error=f"{exc.strerror}: {self.store.path}",
                consequence="the next start will need a new login",
            )
        self._pair = pair
        self._loaded = True
        self.emit(f"{self.platform}.token_{why}", expires_in_s=round(pair.expires_at - self.wall()), **fields)
