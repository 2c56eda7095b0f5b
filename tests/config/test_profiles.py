"""Rule profiles: every preset loads, holds the seeds' numbers, and typos are caught."""

from pathlib import Path

import pytest
from proctorbot.config.profiles import ProfileError, load_profile, profile_names
from pydantic import ValidationError

PRESETS = ("school-interview", "university-admission", "dpo-attestation", "examus-like")


def test_all_presets_load() -> None:
    assert set(PRESETS) <= set(profile_names())
    for name in PRESETS:
        profile = load_profile(name)
        assert profile.name == name
        assert profile.language in ("ru", "en")
        assert profile.verdict.auto_fail is False  # the examiner decides by default
        assert "id_document" in profile.checklist.step_ids
        # Consent to recording and biometrics before anything else [001 §1.6-1.8, 002 §5.2-5.4]
        assert profile.checklist.step_ids[0] == "consent", name
        assert profile.checklist.step_ids.index("equipment") < profile.checklist.step_ids.index(
            "id_document"
        )


def test_preset_numbers_from_the_seeds() -> None:
    uni = load_profile("university-admission")
    assert uni.thresholds.away_total_seconds == 300
    assert uni.thresholds.technical_interruption_total_seconds == 900
    assert uni.retention.recordings_days >= 90
    examus = load_profile("examus-like")
    assert examus.thresholds.look_away_seconds == 5
    assert examus.thresholds.repeated_offence_count == 3
    assert examus.retention.recordings_days == 30
    assert examus.checklist.step_ids[0] == "consent"
    dpo = load_profile("dpo-attestation")
    assert dpo.thresholds.min_face_share == pytest.approx(0.20)
    assert dpo.checklist.non_biometric_allowed is True
    assert examus.checklist.non_biometric_allowed is False
    school = load_profile("school-interview")
    assert school.checklist.step_ids == (
        "consent",
        "equipment",
        "room_scan",
        "desk",
        "id_document",
        "instruction",
    )


def test_notify_and_reminders() -> None:
    uni = load_profile("university-admission")
    assert "organizer" in uni.notify.recipients("gross_violation")
    # issue 5 defaults: 14 d procedure notice, 3 d schedule, 1 d link, 15 min before
    assert uni.reminders.offsets_minutes == (14 * 1440, 3 * 1440, 1440, 15)
    with pytest.raises(KeyError):
        uni.notify.recipients("no_such_event")


def test_typo_names_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    source = Path(load_profile.__code__.co_filename).parent / "profiles" / "examus-like.toml"
    path.write_text(
        source.read_text(encoding="utf-8").replace("look_away_seconds", "look_away_secnds"),
        encoding="utf-8",
    )
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert "thresholds.look_away_secnds" in message and "unknown key" in message
    assert str(path) in message


def test_bad_values_are_clear(tmp_path: Path) -> None:
    source = Path(load_profile.__code__.co_filename).parent / "profiles" / "examus-like.toml"
    text = source.read_text(encoding="utf-8")
    path = tmp_path / "bad.toml"
    path.write_text(text.replace('looking_away = "violation"', 'looking_away = "fatal"'))
    with pytest.raises(ProfileError, match="severity.looking_away"):
        load_profile(path)
    path.write_text(text.replace('{ kind = "desk" }', '{ kind = "desks" }'))
    with pytest.raises(ProfileError, match="checklist.steps"):
        load_profile(path)
    path.write_text(
        text.replace("[retention]", "[retention]\n#").replace("recordings_days = 30", "")
    )
    with pytest.raises(ProfileError, match="retention.recordings_days: required"):
        load_profile(path)
    path.write_text("title = [")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(path)


def test_profile_not_starting_with_consent_is_refused(tmp_path: Path) -> None:
    source = Path(load_profile.__code__.co_filename).parent / "profiles" / "examus-like.toml"
    path = tmp_path / "no-consent.toml"
    path.write_text(
        source.read_text(encoding="utf-8").replace('  { kind = "consent" },', "", 1),
        encoding="utf-8",
    )
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert str(path) in message and "checklist.steps" in message
    assert "first step must be" in message and "consent" in message and "'equipment'" in message


def test_unknown_profile_name_lists_known() -> None:
    with pytest.raises(ProfileError, match="university-admission"):
        load_profile("no-such-profile")


def test_profile_is_frozen() -> None:
    profile = load_profile("examus-like")
    with pytest.raises(ValidationError):
        profile.thresholds.look_away_seconds = 1  # type: ignore[misc]
