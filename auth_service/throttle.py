"""Login throttling in Redis: fixed windows of failures per username and per client address.

An attempt is counted *before* the password check (atomically with the limit check, in one
Lua call), so parallel guesses cannot slip past the limit while their bcrypt checks run; a
success gives its count back and clears the username's failures, and an attempt that ended
without a verdict (a dependency failed) gives its count back too.
"""

from __future__ import annotations

import math

import redis.asyncio as aioredis

from auth_service.domain import Attempt, TooManyAttempts

# KEYS: counters; ARGV[1]: window in seconds; ARGV[1 + i]: limit of KEYS[i].
# Returns 0 (counted) or the milliseconds until the fullest blocking window ends.
_BEGIN = """
local wait = 0
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('EXPIRE', key, ARGV[1])
      ttl = tonumber(ARGV[1]) * 1000
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return 0
"""

# KEYS: counters to give one back to; never below zero, never recreating an expired key.
_RELEASE = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"""


def retry_after_seconds(wait_ms: int) -> int:
    """Whole seconds a client must wait so that the window has surely ended (at least 1)."""
    return max(1, math.ceil(wait_ms / 1000))


class RedisLoginThrottle:
    """Counts login failures per username and per client in fixed windows."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        namespace: str,
        max_per_user: int,
        max_per_client: int,
        window_seconds: int,
    ) -> None:
        self._redis = redis
        self._prefix = f"{namespace}:auth:fail"
        self._max_per_user = max_per_user
        self._max_per_client = max_per_client
        self._window = window_seconds
        self._begin = redis.register_script(_BEGIN)
        self._release = redis.register_script(_RELEASE)

    def user_key(self, username: str) -> str:
        return f"{self._prefix}:user:{username.lower()}"

    def client_key(self, client: str) -> str:
        return f"{self._prefix}:client:{client}"

    async def begin(self, attempt: Attempt) -> None:
        """Count the attempt, or raise TooManyAttempts (nothing counted) if a limit is reached."""
        keys = [self.client_key(attempt.client)]
        limits = [self._max_per_client]
        if attempt.username is not None:
            keys.append(self.user_key(attempt.username))
            limits.append(self._max_per_user)
        wait_ms = int(await self._begin(keys=keys, args=[self._window, *limits]))
        if wait_ms > 0:
            raise TooManyAttempts(retry_after_seconds(wait_ms))

    async def succeeded(self, attempt: Attempt) -> None:
        """The password matched: forget the username's failures and give the client's count back."""
        async with self._redis.pipeline(transaction=False) as pipe:
            if attempt.username is not None:
                pipe.delete(self.user_key(attempt.username))
            await self._release(keys=[self.client_key(attempt.client)], client=pipe)
            await pipe.execute()

    async def abandoned(self, attempt: Attempt) -> None:
        """No verdict was reached (a dependency failed): give the counts back."""
        keys = [self.client_key(attempt.client)]
        if attempt.username is not None:
            keys.append(self.user_key(attempt.username))
        await self._release(keys=keys)
