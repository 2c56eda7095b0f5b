"""One detection-models holder per server process (``AppContext.models``): the checklist,
the live watch and the hand-over get the same objects, each built once, on first use.

Light fake builders count the constructions; no real model is loaded here.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from proctorbot.app import Areas
from proctorbot.process_models import ModelBuilders, Once, ProcessModels

pytestmark = [pytest.mark.timeout(60)]

AREAS = Areas(bot=True, handover=True, checklist=True)


class FakeModel:
    def __init__(self, name: str) -> None:
        self.name = name


def counting_builders(built: Counter) -> ModelBuilders:
    def builder(name: str):
        def build() -> FakeModel:
            built[name] += 1
            time.sleep(0.05)  # a slow load: concurrent first calls overlap
            return FakeModel(name)

        return build

    return ModelBuilders(builder("audio"), builder("faces"), builder("whisper"))


async def test_checklist_live_watch_and_hand_over_share_each_model(app_context) -> None:
    from proctorbot.checklist.service import CHECKLIST_PLUGIN
    from proctorbot.handover.service import HAND_OVER, LIVE_WATCH_PLUGIN

    from proctorbot.app import build_app

    built: Counter = Counter()
    app_context.models = ProcessModels(builders=counting_builders(built))
    app = await build_app(app_context, areas=AREAS)
    checklist = app[CHECKLIST_PLUGIN].detectors
    live = app[LIVE_WATCH_PLUGIN]
    hand_over = app[HAND_OVER]
    assert built == Counter(), "composing the server loads nothing"
    assert live.models is app_context.models

    # Every consumer asks at once, from executor threads, as the checks and the watch do.
    askers = {
        "checklist room scan": checklist.room_scan.face_analyzer,
        "checklist voiceprint": checklist.voice_enroller.models,
        "checklist name aloud": checklist.transcriber.transcriber,
        "live audio": live.models.audio_models,
        "live video": live.models.face_analyzer,
        "hand-over audio": hand_over.audio_models,
        "hand-over transcripts": hand_over.transcriber,
    }
    barrier = threading.Barrier(len(askers) * 2)

    def ask(get):
        barrier.wait()
        return get()

    with ThreadPoolExecutor(len(askers) * 2) as pool:
        got = list(pool.map(ask, list(askers.values()) * 2))
    by_model: dict[str, set[int]] = {}
    for model in got:
        by_model.setdefault(model.name, set()).add(id(model))
    assert {name: len(ids) for name, ids in by_model.items()} == {
        "audio": 1,
        "faces": 1,
        "whisper": 1,
    }, "one object per model, whoever asks"
    assert built == Counter({"audio": 1, "faces": 1, "whisper": 1}), "each built once"
    assert checklist.voice_enroller.models() is live.models.audio_models()
    assert checklist.room_scan.face_analyzer() is live.models.face_analyzer()


async def test_checklist_without_detection_modules_builds_nothing(app_context, monkeypatch) -> None:
    from proctorbot.checklist import adapters

    built: Counter = Counter()
    app_context.models = ProcessModels(builders=counting_builders(built))
    monkeypatch.setattr(adapters, "_available", lambda module: False)
    detectors = adapters.build_detectors(app_context.settings, app_context.models)
    assert all(value is None for value in vars(detectors).values())
    assert built == Counter()


def test_a_failed_build_is_retried_and_not_kept() -> None:
    calls: list[int] = []

    def flaky() -> FakeModel:
        calls.append(1)
        if len(calls) == 1:
            raise FileNotFoundError("weights missing")
        return FakeModel("audio")

    once = Once(flaky)
    with pytest.raises(FileNotFoundError):
        once()
    assert not once.built
    first = once()
    assert once() is first and len(calls) == 2


def test_the_default_holder_imports_no_model_until_asked(settings) -> None:
    from proctorbot.context import AppContext

    ctx = AppContext.build(settings)
    try:
        assert isinstance(ctx.models, ProcessModels)
        assert not any(
            getattr(ctx.models, name).built
            for name in ("audio_models", "face_analyzer", "transcriber")
        )
    finally:
        ctx.engine.dispose()


def test_serialized_makes_one_call_at_a_time() -> None:
    from proctorbot.process_models import Serialized

    class Model:
        size = 3
        inside = 0
        most = 0

        def run(self, x: int) -> int:
            Model.inside += 1
            Model.most = max(Model.most, Model.inside)
            time.sleep(0.01)
            Model.inside -= 1
            return x * self.size

    shared = Serialized(Model())
    assert shared.size == 3
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(shared.run, range(12))) == [x * 3 for x in range(12)]
    assert Model.most == 1


def test_the_shared_face_analyzer_gives_the_same_boxes_from_many_threads(
    settings, evaldata
) -> None:
    """dlib's HOG detector shared by threads without a lock returns wrong boxes."""
    import cv2

    images = [cv2.imread(str(p)) for p in sorted((evaldata / "faces").glob("*/*.jpg"))[:6]]
    images = [cv2.resize(i, (640, 480)) for i in images if i is not None]
    if not images:
        pytest.skip("no face photos in ../shared/evaldata/faces")
    analyzer = ProcessModels(settings).face_analyzer()

    def boxes(image) -> list:
        return [f.box.as_list() for f in analyzer.detect(image, thorough=False)]

    expected = [boxes(image) for image in images]
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(boxes, images * 4))
    assert got == expected * 4
