"""The examiners' live flags say whose source an event is on: the student's phone going
away is the phone's, not "the student left"."""

from __future__ import annotations

import pytest
from proctorbot.checklist.flags import flag_of
from proctorbot.config.catalogue import Catalogue
from proctorbot.detection.events import DetectorEvent, EventKind


@pytest.mark.parametrize(
    ("track", "role", "device"),
    [
        ("student-s1", "student", "main"),
        ("student-s1-phone", "student", "phone"),
        ("student-s1-screen", "student", "screen"),
        ("examiner-e1", "examiner", "main"),
    ],
)
def test_a_flag_names_the_role_and_the_device(track: str, role: str, device: str) -> None:
    flag = flag_of(DetectorEvent(EventKind.PARTICIPANT_LEFT, 10.0, 14.0, 1.0, track))
    assert (flag["role"], flag["device"]) == (role, device)


@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_other_sources_going_away_have_words_of_their_own(language: str) -> None:
    texts = Catalogue.load(language).texts
    for key in ("phone.participant_left", "phone.black_video", "screen.participant_left"):
        assert texts[f"checklist.flag_device.{key}"].strip(), key
    assert texts["checklist.flag_device.screen.participant_left"] != texts.get(
        "checklist.flag.participant_left"
    )
