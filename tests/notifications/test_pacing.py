from proctorbot.notifications.outbox import backoff
from proctorbot.notifications.pacing import Pacing, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


async def test_global_limit_of_30_per_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Pacing(chat_interval=1.0, per_second=30), clock, clock.sleep)
    for chat in range(90):  # 90 different chats: only the global limit applies
        await limiter.acquire(f"telegram:{chat}")
    assert 2.0 <= clock.now < 3.0  # 30 in [0,1), 30 in [1,2), 30 in [2,3)


async def test_one_per_second_per_chat_and_retry_after_pause() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Pacing(chat_interval=1.0, per_second=30), clock, clock.sleep)
    for _ in range(3):
        await limiter.acquire("telegram:1")
    assert clock.now == 2.0
    limiter.pause("telegram:1", 10)
    await limiter.acquire("telegram:1")
    assert clock.now == 12.0


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = [backoff(n, 2.0, 60.0).total_seconds() for n in range(1, 8)]
    assert delays == [2, 4, 8, 16, 32, 60, 60]
