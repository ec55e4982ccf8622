"""Rate limits: fixed windows, in memory on one node or in Redis when configured.

Headers follow the IETF draft (``RateLimit-Limit``, ``RateLimit-Remaining``,
``RateLimit-Reset``) and ``Retry-After`` on a 429.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Rule:
    limit: int
    window: int  # seconds


RULES: dict[str, Rule] = {
    "sign_up": Rule(10, 3600),
    "log_in": Rule(10, 60),
    "flattr": Rule(600, 60),
    "top_up": Rule(30, 60),
    "withdraw": Rule(30, 60),
}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the window ends

    def headers(self) -> dict[str, str]:
        headers = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining), "RateLimit-Reset": str(self.reset)}
        if not self.allowed:
            headers["Retry-After"] = str(self.reset)
        return headers


class Limiter(Protocol):
    async def hit(self, key: str, rule: Rule) -> Verdict: ...

    async def close(self) -> None: ...


def _verdict(count: int, rule: Rule, now: float) -> Verdict:
    reset = max(1, int(rule.window - now % rule.window))
    return Verdict(count <= rule.limit, rule.limit, max(0, rule.limit - count), reset)


class MemoryLimiter:
    """One process's counters; enough for a single node."""

    def __init__(self, clock=time.time) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._clock = clock

    async def hit(self, key: str, rule: Rule) -> Verdict:
        now = self._clock()
        window = int(now // rule.window)
        if len(self._counts) > 100_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window - 1}
        count = self._counts.get((key, window), 0) + 1
        self._counts[key, window] = count
        return _verdict(count, rule, now)

    async def close(self) -> None:
        return None


class RedisLimiter:
    """Counters in Redis, shared by every node of a deployment."""

    def __init__(self, url: str, clock=time.time) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self._clock = clock

    async def hit(self, key: str, rule: Rule) -> Verdict:
        now = self._clock()
        name = f"gateway:rate:{key}:{int(now // rule.window)}"
        async with self._redis.pipeline(transaction=True) as pipe:
            count, _ = await pipe.incr(name).expire(name, rule.window + 1).execute()
        return _verdict(int(count), rule, now)

    async def close(self) -> None:
        await self._redis.aclose()


def limiter_for(redis_url: str | None) -> Limiter:
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()
