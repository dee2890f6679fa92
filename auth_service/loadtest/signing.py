"""Signing many tokens at once: across processes, as RSA signing holds the GIL."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

from auth_service.domain import User
from auth_service.signing_keys import SigningKey
from auth_service.tokens import TokenIssuer

# ~0.3 ms per RS256 signature: below this many tokens a process pool costs more than it saves.
_CHUNK = 2_000

# Set once per worker process by _init_worker; a process pool has no other way to give its
# workers an object that cannot be pickled cheaply per task.
_worker_issuer: TokenIssuer | None = None


def _init_worker(pem: bytes, issuer: str, audience: str, ttl_seconds: int) -> None:
    global _worker_issuer
    _worker_issuer = TokenIssuer(SigningKey.from_pem(pem), issuer, audience, ttl_seconds)


def _sign(issuer: TokenIssuer, users: Sequence[User], now: int) -> list[str]:
    return [
        issuer.issue(user_id=u.user_id, username=u.username, role=u.role, now=now).access_token
        for u in users
    ]


def _sign_in_worker(task: tuple[Sequence[User], int]) -> list[str]:
    assert _worker_issuer is not None, "the pool initializer did not run"
    return _sign(_worker_issuer, *task)


def sign_tokens(
    issuer: TokenIssuer, users: Sequence[User], *, now: int, workers: int
) -> Iterator[tuple[User, str]]:
    """(user, token) for every user, in order, all issued at ``now``."""
    if workers <= 1 or len(users) <= _CHUNK:
        yield from zip(users, _sign(issuer, users, now), strict=True)
        return
    chunks = [users[i : i + _CHUNK] for i in range(0, len(users), _CHUNK)]
    # spawn, not fork: a forked child inherits whatever threads and locks the parent held.
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(issuer.key.private_pem(), issuer.issuer, issuer.audience, issuer.ttl_seconds),
    ) as pool:
        for chunk, tokens in zip(
            chunks, pool.map(_sign_in_worker, [(c, now) for c in chunks]), strict=True
        ):
            yield from zip(chunk, tokens, strict=True)
