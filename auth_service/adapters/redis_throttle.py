"""Login throttling in Redis: failed logins counted in fixed windows, checks in flight bounded.

Three counts of *failures* (a correct password never counts against anyone):

- per client address (``LOGIN_MAX_FAILURES_PER_CLIENT``): one address spraying many accounts;
- per account from one client (``LOGIN_MAX_FAILURES_PER_USER``): guessing one password;
- per account from all clients (``LOGIN_MAX_FAILURES_PER_ACCOUNT``, higher): the same guessing
  spread over many addresses. A stranger's typos lock a victim out from the stranger's
  address only, until this higher limit is reached.

Because only verdicts count, guesses sent in parallel would all be checked before their
failures land; so the checks of one account *in flight* count against its limits too, and
at most (limit - failures so far) of them can run at once. The check and the in-flight count
happen in one Lua call; the verdict is recorded by another.
"""

from __future__ import annotations

import math

import redis.asyncio as aioredis

from auth_service.domain import Attempt, TooManyAttempts, Verdict

# An in-flight count whose verdict never came (the process died mid-check) frees itself after
# this long; longer than any password check may wait and run.
IN_FLIGHT_TTL_MS = 60_000

# KEYS: client failures [, user failures, user in flight, account failures, account in flight]
# ARGV: window seconds, client limit, user limit, account limit, in-flight ttl ms
# Returns {0, ''} (admitted, in-flight counted) or {ms to wait, the limit that refused}.
_BEGIN = """
local function count(key) return tonumber(redis.call('GET', key) or '0') end
local function ttl_ms(key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('EXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1]) * 1000
  end
  return ttl
end
local wait, limit = 0, ''
local function refuse(ms, name)
  if ms > wait then wait, limit = ms, name end
end
if count(KEYS[1]) >= tonumber(ARGV[2]) then refuse(ttl_ms(KEYS[1]), 'client') end
if #KEYS == 5 then
  local pairs_ = {{KEYS[2], KEYS[3], tonumber(ARGV[3]), 'user'},
                  {KEYS[4], KEYS[5], tonumber(ARGV[4]), 'account'}}
  for _, p in ipairs(pairs_) do
    local failures = count(p[1])
    if failures >= p[3] then
      refuse(ttl_ms(p[1]), p[4])
    elseif failures + count(p[2]) >= p[3] then
      refuse(1000, 'in_flight')
    end
  end
  if wait == 0 then
    for _, key in ipairs({KEYS[3], KEYS[5]}) do
      redis.call('INCR', key)
      redis.call('PEXPIRE', key, ARGV[5])
    end
  end
end
return {wait, limit}
"""

# KEYS: as for _BEGIN; ARGV: window seconds, verdict.
_FINISH = """
if #KEYS == 5 then
  for _, key in ipairs({KEYS[3], KEYS[5]}) do
    if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
  end
end
if ARGV[2] == 'failed' then
  for _, i in ipairs({1, 2, 4}) do
    local key = KEYS[i]
    if key and redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  end
elseif ARGV[2] == 'succeeded' and #KEYS == 5 then
  redis.call('DEL', KEYS[2])
end
return 0
"""


def retry_after_seconds(wait_ms: int) -> int:
    """Whole seconds a client must wait so that the window has surely ended (at least 1)."""
    return max(1, math.ceil(wait_ms / 1000))


class RedisLoginThrottle:
    """Counts login failures per client, per account from a client and per account."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        namespace: str,
        max_per_client: int,
        max_per_user: int,
        max_per_account: int,
        window_seconds: int,
    ) -> None:
        # One hash tag for every counter: a check reads the client's and the account's in one
        # script, which a Redis Cluster runs only on keys of one slot. Logins are not the
        # hot path of a sale, so one node holds them all.
        self._prefix = f"{namespace}:{{auth}}"
        self._limits = (max_per_client, max_per_user, max_per_account)
        self._window = window_seconds
        self._begin = redis.register_script(_BEGIN)
        self._finish = redis.register_script(_FINISH)

    def keys(self, attempt: Attempt) -> list[str]:
        """The counters an attempt touches (the client's alone for a malformed username)."""
        client = f"{self._prefix}:fail:client:{attempt.client}"
        if attempt.username is None:
            return [client]
        user = attempt.username.lower()
        return [
            client,
            f"{self._prefix}:fail:user:{user}:{attempt.client}",
            f"{self._prefix}:busy:user:{user}:{attempt.client}",
            f"{self._prefix}:fail:account:{user}",
            f"{self._prefix}:busy:account:{user}",
        ]

    async def begin(self, attempt: Attempt) -> None:
        """Admit the attempt (counted in flight) or raise TooManyAttempts (nothing counted)."""
        wait_ms, limit = await self._begin(
            keys=self.keys(attempt), args=[self._window, *self._limits, IN_FLIGHT_TTL_MS]
        )
        if int(wait_ms) > 0:
            raise TooManyAttempts(retry_after_seconds(int(wait_ms)), limit=str(limit))

    async def finish(self, attempt: Attempt, verdict: Verdict) -> None:
        """Record the verdict of an admitted attempt: a failure counts everywhere; a success
        clears the account's failures from this client; either way it is no longer in flight."""
        await self._finish(keys=self.keys(attempt), args=[self._window, verdict])
