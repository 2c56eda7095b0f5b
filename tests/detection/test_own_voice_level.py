"""A voice close to the student's: flagged by how far it falls below the student's own level."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from proctorbot.config.settings import DetectionSettings
from proctorbot.detection.events import EventKind
from proctorbot.detection.own_voice_level import OwnVoiceLevel
from proctorbot.detection.third_party_voice import ThirdPartyVoiceDetector, WindowScore
from proctorbot.detection.voiceprint import Voiceprint

DIM = 192


def test_no_verdict_until_the_students_level_is_known() -> None:
    level = OwnVoiceLevel()
    assert not any(level.below(0.4) for _ in range(3)), "3 windows are too few to judge by"
    for _ in range(10):
        assert not level.below(0.8)
    assert level.level == pytest.approx(0.8)
    assert level.below(0.45)
    assert not level.below(0.55), "0.55 is above the 0.5 cap"


def test_the_level_follows_the_student() -> None:
    level = OwnVoiceLevel()
    for _ in range(20):
        level.below(0.9)
    assert level.below(0.45)  # 0.45 < min(0.5, 0.9 - 0.3)
    for _ in range(60):
        level.below(0.7)  # the student's voice drifts (further from the microphone)
    assert level.level == pytest.approx(0.7)
    assert not level.below(0.45), "0.45 is within 0.3 of the new level"
    assert level.below(0.35)


def _embedding(similarity: float) -> np.ndarray:
    """A unit vector at the given cosine to the first axis (the voiceprint)."""
    e = np.zeros(DIM, np.float32)
    e[0], e[1] = similarity, np.sqrt(1.0 - similarity**2)
    return e


def _detector() -> ThirdPartyVoiceDetector:
    models = SimpleNamespace(settings=DetectionSettings(), new_vad=lambda: None, embedder=None)
    axis = np.zeros(DIM, np.float32)
    axis[0] = 1.0
    return ThirdPartyVoiceDetector(models, Voiceprint(axis, 10.0))  # type: ignore[arg-type]


def _windows(detector: ThirdPartyVoiceDetector, sims: list[float], t0: float = 400.0, share=0.0):
    events = []
    for i, sim in enumerate(sims):
        window = WindowScore(t0 + i, t0 + i + 2.0, float("nan"), examiner_share=share)
        events += detector._score_window(window, _embedding(sim))
    return events


def test_a_run_of_windows_far_below_the_students_level_is_another_voice() -> None:
    detector = _detector()
    assert _windows(detector, [0.8] * 15) == []
    events = _windows(detector, [0.42, 0.41, 0.43, 0.44], t0=415.0)
    assert len(events) == 1, "one finding, raised at the third window in a row"
    event = events[0]
    assert event.kind is EventKind.THIRD_PARTY_VOICE
    assert event.start == pytest.approx(415.0) and event.end == pytest.approx(419.0)
    assert event.details["detected_at"] == pytest.approx(419.0)
    assert detector.growing_findings_json()["third_party"][0]["end"] == pytest.approx(420.0)
    assert [w.third_party for w in detector.windows[-4:]] == [True] * 4


def test_two_low_windows_or_the_examiner_speaking_raise_nothing() -> None:
    detector = _detector()
    _windows(detector, [0.8] * 15)
    assert _windows(detector, [0.42, 0.42, 0.8, 0.42, 0.42, 0.8], t0=415.0) == []
    assert _windows(detector, [0.42] * 4, t0=421.0, share=0.5) == [], "the examiner speaking"
    assert detector.growing_findings_json()["third_party"] == []
    fresh = _detector()  # no level yet: the fixed threshold alone decides
    assert _windows(fresh, [0.42] * 5) == []
