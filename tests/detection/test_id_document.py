"""Reading the ID shown to the camera: names, MRZ, self-made Russian cards, real specimens."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner
from proctorbot.detection.id_document import IdDocumentReader, find_card
from proctorbot.detection.image_input import load_image
from proctorbot.detection.mrz import find_mrz_name
from proctorbot.detection.names import fold_name, match_name
from proctorbot.detection.ocr import OcrUnavailable, TesseractReader

from tests.detection.vision_helpers import sample_face_or_skip
from tests.fixtures.synthetic import CardPerson, Segment, make_id_card, render_scenario

ROSTER = "ЩЕРБАКОВА Алёна Юрьевна"
needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract is not installed"
)


def test_name_folding_and_matching() -> None:
    assert fold_name("Алёна") == fold_name("АЛЕНА") == fold_name("Alena")
    assert match_name("Щербакова Алена Юрьевна", ROSTER).score == 1.0
    assert match_name("Алёна ЩЕРБАКОВА", ROSTER).matched  # word order, no patronymic
    assert match_name("SHCHERBAKOVA ALENA", ROSTER).matched  # MRZ transliteration
    assert match_name("Shcherbakova Alyona", ROSTER).matched  # another transliteration
    assert match_name("Щербакова Алина", ROSTER).score < 1.0
    assert not match_name("Иванова Мария Петровна", ROSTER).matched


def test_mrz_name_from_ocr_lines() -> None:
    mrz = find_mrz_name(
        [
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
            "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
        ]
    )
    assert mrz is not None and mrz.surname == "ERIKSSON" and mrz.given_names == "ANNA MARIA"
    td1 = find_mrz_name(
        [
            "IDD<<T220001293<<<<<<<<<<<<<<<",
            "6408125<2010315D<<<<<<<<<<<<<4",
            "MUSTERMANN<<ERIKA<<<<<<<<<<<<<",
        ]
    )
    assert td1 is not None and td1.full == "MUSTERMANN ERIKA"
    assert find_mrz_name(["no machine zone here"]) is None


def test_missing_tesseract_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(OcrUnavailable, match="apt-get install tesseract-ocr"):
        TesseractReader(command="tesseract-not-installed").check()
    from proctorbot.cli import cli

    image = tmp_path / "card.png"
    cv2.imwrite(str(image), make_id_card(CardPerson.from_full_name(ROSTER), None))
    monkeypatch.setenv("PROCTORBOT_DETECTION__TESSERACT_CMD", "tesseract-not-installed")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["read-id", str(image), "--json"])
    assert result.exit_code == 1
    assert "tesseract" in result.output and "apt-get install" in result.output


@pytest.fixture(scope="module")
def reader() -> IdDocumentReader:
    pytest.importorskip("dlib", reason="dlib-bin is not installed")
    return IdDocumentReader()


@needs_tesseract
def test_card_image_cli_contract(tmp_path: Path) -> None:
    from proctorbot.cli import cli

    card = make_id_card(CardPerson.from_full_name(ROSTER), sample_face_or_skip())
    path = tmp_path / "card.png"
    cv2.imwrite(str(path), card)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["read-id", str(path), "--expect-name", "ЩЕРБАКОВА Алена Юрьевна", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"document", "name", "name_match", "name_score", "face_match"}
    assert data["document"] is True and data["name_match"] is True and data["name_score"] >= 0.9
    assert fold_name(data["name"]).startswith(fold_name("Щербакова"))
    assert data["face_match"] is None  # no live face in a still of the card alone
    result = runner.invoke(
        cli, ["read-id", str(path), "--expect-name", "ИВАНОВ Пётр Сергеевич", "--json"]
    )
    assert json.loads(result.output)["name_match"] is False


@needs_tesseract
def test_card_held_to_the_webcam(reader: IdDocumentReader, tmp_path: Path) -> None:
    face = sample_face_or_skip()
    card = make_id_card(CardPerson.from_full_name(ROSTER), face)
    frames = [
        f for _, f in render_scenario([Segment("card", 1.0)], fps=4, face_photo=face, card=card)
    ]
    assert all(find_card(f) is not None for f in frames)
    reading = reader.read(
        frames, expected_name="Щербакова Алена", evidence_dir=tmp_path, evidence_prefix="ev"
    )
    assert reading.card_found and reading.document
    assert reading.name_match, reading.ocr_text
    # the photo on the card and the student beside it are the same person
    assert reading.face_match is not None and reading.face_match >= 0.5
    assert (tmp_path / "id_card.jpg").is_file() and reading.evidence["card"] == "ev/id_card.jpg"


@needs_tesseract
def test_no_document_in_an_empty_room(reader: IdDocumentReader) -> None:
    face = sample_face_or_skip()
    frames = [f for _, f in render_scenario([Segment("present", 0.5)], fps=4, face_photo=face)]
    reading = reader.read(frames, expected_name=ROSTER)
    assert not reading.name_match and not reading.card_found


# A few specimens keep the test short; benchmarks/vision.py reads them all.
SPECIMENS = ("passport-td3.jpg", "100_pass-fin.png", "100_pass-cze.jpg")


@needs_tesseract
def test_real_specimens(evaldata: Path, reader: IdDocumentReader) -> None:
    root = evaldata / "id_docs"
    rows = {Path(r["file"]).name: r for r in csv.DictReader((root / "labels.csv").open())}
    matched = 0
    for name in SPECIMENS:
        row = rows[name]
        expected = f"{row['surname']} {row['given_names']}"
        reading = reader.read([load_image(root / row["file"])], expected_name=expected)
        matched += reading.name_match
        assert reading.document
    assert matched >= len(SPECIMENS) - 1


@pytest.mark.parametrize("turn", [12.0, -20.0, 90.0])
def test_text_line_angle_levels_a_turned_card(turn: float) -> None:
    from proctorbot.detection.page_orientation import quarter_turns, rotate_whole, text_line_angle

    card = make_id_card(CardPerson.from_full_name(ROSTER), None)
    turned = rotate_whole(card, turn)
    angle = text_line_angle(turned)
    # back to horizontal lines: the turn undone up to a half turn
    assert abs((angle + turn + 90) % 180 - 90) <= 1.5, angle
    assert abs(text_line_angle(card)) <= 1.0
    pages = quarter_turns(turned)
    assert len(pages) == 4 and {p.shape[:2] for p in pages[:2]} == {pages[0].shape[:2]}


# Read by name only after the page is turned upright: a booklet photographed sideways and
# a page held at about 20 degrees, both with a machine zone (issue 16).
TURNED_SPECIMENS = ("0_pass-lva.jpg", "62_pass-aus.png")


@needs_tesseract
@pytest.mark.parametrize("name", TURNED_SPECIMENS)
def test_turned_specimens_are_read_upright(
    evaldata: Path, reader: IdDocumentReader, name: str
) -> None:
    root = evaldata / "id_docs"
    rows = {Path(r["file"]).name: r for r in csv.DictReader((root / "labels.csv").open())}
    row = rows[name]
    image = load_image(root / row["file"])
    reading = reader.read([image], expected_name=f"{row['surname']} {row['given_names']}")
    assert reading.name_match, (reading.name, reading.mrz_name, reading.name_score)
    if name == "62_pass-aus.png":  # (the booklet takes ~16 s a read: once is enough)
        # the turn is chosen by legibility, not by the name sought: another name still fails
        other = reader.read([image], expected_name="ИВАНОВ Пётр Сергеевич")
        assert not other.name_match, other.name
