"""Rate limits: fixed windows, in memory on one node or in Redis when configured.

Headers follow the IETF draft (``RateLimit-Limit``, ``RateLimit-Remaining``,
``RateLimit-Reset``) and ``Retry-After`` on a 429.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.exceptions import RedisError

log = logging.getLogger("gateway.http")


@dataclass(frozen=True)
class Rule:
    limit: int
    window: int  # seconds


RULES: dict[str, Rule] = {
    "sign_up": Rule(10, 3600),
    "log_in": Rule(10, 60),  # from one address
    # Wrong passwords or codes for one login, from any address: a botnet guessing one account's
    # password or code gets 20 tries a quarter of an hour. Only failures count, so nobody locks
    # an account's owner out by signing in as them with the right password.
    "log_in_failures": Rule(20, 900),
    "totp": Rule(10, 300),  # switching two-factor sign-in on or off: a code to guess
    "flattr": Rule(600, 60),
    "top_up": Rule(30, 60),
    "withdraw": Rule(30, 60),
    "move_earnings": Rule(30, 60),
    "pay": Rule(30, 60),
}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the window ends

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset)
        return headers


class Limiter(Protocol):
    async def hit(self, key: str, rule: Rule) -> Verdict:
        """Count one more under ``key``, and say whether that one is allowed."""

    async def give_back(self, key: str, rule: Rule) -> None:
        """Take one off the count (a hit that turned out not to count)."""

    async def close(self) -> None: ...


def _verdict(count: int, rule: Rule, now: float) -> Verdict:
    reset = max(1, int(rule.window - now % rule.window))
    return Verdict(count <= rule.limit, rule.limit, max(0, rule.limit - count), reset)


class MemoryLimiter:
    """One process's counters; enough for a single node."""

    MAX_KEYS = 100_000  # past this many counters, the ones whose window has ended are dropped

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        # (key, window length, window number) -> count. Window numbers of rules with other lengths
        # are not comparable, so a counter's end is computed from its own length.
        self._counts: dict[tuple[str, int, int], int] = {}
        self._clock = clock
        self._pruned_at = float("-inf")

    async def hit(self, key: str, rule: Rule) -> Verdict:
        now = self._clock()
        window = int(now // rule.window)
        if len(self._counts) > self.MAX_KEYS and now - self._pruned_at >= 1:  # at most once a second
            self._pruned_at = now
            self._counts = {k: v for k, v in self._counts.items() if (k[2] + 1) * k[1] > now}
        count = self._counts.get((key, rule.window, window), 0) + 1
        self._counts[key, rule.window, window] = count
        return _verdict(count, rule, now)

    async def give_back(self, key: str, rule: Rule) -> None:
        counter = (key, rule.window, int(self._clock() // rule.window))
        if self._counts.get(counter, 0) > 0:
            self._counts[counter] -= 1

    async def close(self) -> None:
        return None


class RedisLimiter:
    """Counters in Redis, shared by every node of a deployment (whose keys start with ``prefix``).

    While Redis cannot be reached, each process counts in its own memory
    (and logs it) rather than refuse every limited call: the limits then
    hold per process, so a deployment of n processes lets up to n times as
    many through. After a failure Redis is left alone for ``PAUSE`` seconds,
    so that each call does not wait for its timeout.
    """

    PAUSE = 5.0

    def __init__(self, url: str, clock: Callable[[], float] = time.time, prefix: str = "gateway:rate:") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._clock = clock
        self.prefix = prefix
        self._fallback = MemoryLimiter(clock)
        self._down_until = float("-inf")  # time.monotonic()
        self._warned_at = float("-inf")

    async def hit(self, key: str, rule: Rule) -> Verdict:
        now = self._clock()
        name = self._name(key, rule, now)
        if self._down():
            return await self._fallback.hit(key, rule)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, rule.window + 1)
                count, _ = await pipe.execute()
        except RedisError as error:
            self._failed(error)
            return await self._fallback.hit(key, rule)
        return _verdict(int(count), rule, now)

    async def give_back(self, key: str, rule: Rule) -> None:
        if self._down():
            return await self._fallback.give_back(key, rule)
        try:
            name = self._name(key, rule, self._clock())
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.decr(name)
                pipe.expire(name, rule.window + 1)
                await pipe.execute()
        except RedisError as error:
            self._failed(error)

    def _name(self, key: str, rule: Rule, now: float) -> str:
        return f"{self.prefix}{key}:{int(now // rule.window)}"

    def _down(self) -> bool:
        return time.monotonic() < self._down_until

    def _failed(self, error: Exception) -> None:
        self._down_until = time.monotonic() + self.PAUSE
        if time.monotonic() - self._warned_at >= 60:  # once a minute, not once a request
            self._warned_at = time.monotonic()
            log.warning("Redis is unreachable (%s); rate limits count in this process's memory meanwhile", error)

    async def close(self) -> None:
        await self._redis.aclose()


def limiter_for(redis_url: str | None) -> Limiter:
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()
