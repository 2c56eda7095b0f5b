"""bot/page_focus.py without a browser: the page's reports become events on the session
clock, the ones still open end when the student leaves or the bot does, and a closed
episode over the allowance is alerted live."""

from __future__ import annotations

import asyncio

from proctorbot.bot.live_alerts import RECORDER_KINDS, LiveAlertPolicy
from proctorbot.bot.page_focus import PageFocusWatch
from proctorbot.bot.peers import PeerInfo
from proctorbot.bot.session_bus import Detected, PeerLeft, SessionBus
from proctorbot.config.profiles import load_profile


class FakeBot:
    def __init__(self) -> None:
        self.started_at = 1000.0
        self.stopped_at: float | None = None
        self.bus = SessionBus(asyncio.get_running_loop())
        self.peers = {
            "p-s": PeerInfo("p-s", "student", "Анна", "s1"),
            "p-e": PeerInfo("p-e", "examiner", "Иван", "e1"),
        }
        self.events = []
        self.panels = []
        self.handlers = {}
        self.bus.on(Detected, lambda d: self.events.append(d.event))

    def on_panel(self, area, handler) -> None:
        self.handlers[area] = handler

    async def send_panel(self, area, action, data, to=None) -> bool:
        self.panels.append((area, action, data, to))
        return True

    def emit(self, event) -> None:
        self.bus.publish(Detected(event))


async def test_reports_become_events_with_durations_and_open_ones_close() -> None:
    bot = FakeBot()
    clock = [1010.0]
    watch = PageFocusWatch(bot, require_fullscreen=True, clock=lambda: clock[0])
    task = asyncio.create_task(watch.run())
    await asyncio.sleep(0.05)
    assert bot.panels == [("focus", "watch", {"fullscreen": True}, "p-s")]  # the student only
    change = bot.handlers["focus"]
    await change("p-s", "change", {"kind": "page_hidden", "state": "start"})
    clock[0] = 1016.5
    await change("p-s", "change", {"kind": "page_hidden", "state": "end", "duration": 6.4})
    await change("p-e", "change", {"kind": "window_blur", "state": "start"})  # not the student
    await change("p-s", "change", {"kind": "nonsense", "state": "start"})
    # an end whose start was lost (sent while the signaling was down)
    await change("p-s", "change", {"kind": "window_blur", "state": "end", "duration": 2.0})
    await change("p-s", "change", {"kind": "fullscreen_left", "state": "start"})
    clock[0] = 1020.0
    bot.bus.publish(PeerLeft(bot.peers["p-s"], "left"))
    await asyncio.sleep(0.05)
    await change("p-s", "change", {"kind": "page_hidden", "state": "start"})
    bot.stopped_at = 25.0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    seen = [(str(e.kind), e.start, e.end, bool(e.details.get("open"))) for e in bot.events]
    assert seen == [
        ("page_hidden", 10.0, 10.0, True),
        ("page_hidden", 10.0, 16.5, False),
        ("window_blur", 14.5, 16.5, False),
        ("fullscreen_left", 16.5, 16.5, True),
        ("fullscreen_left", 16.5, 20.0, False),  # the student left
        ("page_hidden", 20.0, 20.0, True),
        ("page_hidden", 20.0, 25.0, False),  # the bot left
    ]
    assert bot.events[1].details["page_duration"] == 6.4
    assert {e.track for e in bot.events} == {"student-s1"}  # the main device's key


def test_a_closed_episode_over_the_allowance_is_alerted_live() -> None:
    from proctorbot.detection.events import DetectorEvent, EventKind

    assert {
        EventKind.PAGE_HIDDEN,
        EventKind.WINDOW_BLUR,
        EventKind.FULLSCREEN_LEFT,
    } <= RECORDER_KINDS
    policy = LiveAlertPolicy(load_profile("university-admission"))
    track = "student-s1"
    assert (
        policy.add(
            DetectorEvent(EventKind.PAGE_HIDDEN, 10, 10, track=track, details={"open": True})
        )
        == []
    )
    [finding] = policy.add(DetectorEvent(EventKind.PAGE_HIDDEN, 10, 16.5, track=track))
    assert (finding.rule, finding.severity) == ("page_focus", "violation")
