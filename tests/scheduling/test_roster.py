import datetime as dt
from pathlib import Path

import pytest
from proctorbot.scheduling.roster import RosterError, import_roster
from proctorbot.scheduling.tables import Availability, Enrolment
from proctorbot.storage.models import Person
from sqlalchemy import func, select

ROSTER = """role,id,full_name,email,telegram,group,exam,language,timezone
examiner,ivanov,Иван Иванов,ivanov@uni.example,@ivanov_exam,,math,ru,
examiner,petrova,Anna Petrova,petrova@uni.example,,,,en,
student,1001,Пётр Сидоров,sidorov@mail.example,123456789,A-1,math,ru,Asia/Yekaterinburg
student,1002,Mary Smith,smith@mail.example,,A-1,math,en,
organizer,org,Olga Org,org@uni.example,,,,ru,
"""
AVAIL = """examiner,date,start,end,timezone
ivanov,2026-06-15,09:00,13:00,
petrova@uni.example,2026-06-15,10:00,12:00,Europe/Moscow
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_import_people_enrolments_and_windows(app_context, tmp_path: Path) -> None:
    with app_context.db.begin() as db:
        summary = import_roster(
            db, "Uni", write(tmp_path, "r.csv", ROSTER), write(tmp_path, "a.csv", AVAIL)
        )
    assert summary.created == 5 and summary.windows == 2
    with app_context.db() as db:
        student = db.scalar(select(Person).where(Person.external_id == "1001"))
        assert student.telegram_chat_id == 123456789 and student.group_name == "A-1"
        assert (
            db.scalar(select(Enrolment.timezone).where(Enrolment.person_id == student.id))
            == "Asia/Yekaterinburg"
        )
        windows = db.scalars(select(Availability).order_by(Availability.starts_at)).all()
        assert windows[0].starts_at == dt.datetime(2026, 6, 15, 6, 0, tzinfo=dt.UTC)  # 09:00 MSK
        examiner = db.scalar(select(Person).where(Person.external_id == "ivanov"))
        assert examiner.telegram_username == "ivanov_exam"
    # importing the same files again updates, never duplicates
    with app_context.db.begin() as db:
        again = import_roster(db, "Uni", tmp_path / "r.csv", tmp_path / "a.csv")
    assert again.created == 0 and again.updated == 5
    with app_context.db() as db:
        assert count(db, Person) == 5 and count(db, Availability) == 2


def test_bad_lines_are_all_named_and_nothing_is_imported(app_context, tmp_path: Path) -> None:
    bad = ROSTER + (
        "student,1001,Someone Else,x@mail.example,,,math,ru,\n"  # duplicate id (line 7)
        "teacher,1003,Wrong Role,,,,,ru,\n"  # line 8
        "student,1004,,not-an-email,@x,,,fr,Mars/Base\n"  # line 9
    )
    with pytest.raises(RosterError) as caught, app_context.db.begin() as db:
        import_roster(db, "Uni", write(tmp_path, "r.csv", bad))
    text = str(caught.value)
    assert "r.csv, line 7: duplicate student '1001' (first on line 4)" in text
    assert "line 8: unknown role 'teacher'" in text
    for part in (
        "line 9: full_name is empty",
        "not an e-mail",
        "Telegram",
        "unknown language 'fr'",
        "Mars/Base",
    ):
        assert part in text
    with app_context.db() as db:
        assert count(db, Person) == 0


def test_unknown_examiner_in_availability(app_context, tmp_path: Path) -> None:
    avail = AVAIL + "sokolov,2026-06-15,09:00,10:00,\nivanov,2026-06-15,12:00,11:00,\n"
    with pytest.raises(RosterError) as caught, app_context.db.begin() as db:
        import_roster(db, "Uni", write(tmp_path, "r.csv", ROSTER), write(tmp_path, "a.csv", avail))
    assert "a.csv, line 4: unknown examiner 'sokolov'" in str(caught.value)
    assert "line 5: the window ends (11:00) before it starts (12:00)" in str(caught.value)
    with app_context.db() as db:
        assert count(db, Person) == 0  # the roster part was rolled back too


def test_dst_gap_in_availability_is_a_line_error(app_context, tmp_path: Path) -> None:
    avail = "examiner,date,start,end,timezone\nivanov,2026-03-29,02:30,05:00,Europe/Berlin\n"
    with (
        pytest.raises(RosterError, match="line 2: 2026-03-29 02:30 does not exist"),
        app_context.db.begin() as db,
    ):
        import_roster(db, "Uni", write(tmp_path, "r.csv", ROSTER), write(tmp_path, "a.csv", avail))


def test_malformed_csv(app_context, tmp_path: Path) -> None:
    broken = 'role,id,full_name\nstudent,1,"Unclosed quote\nstudent,2,Two,extra,columns,here\n'
    with pytest.raises(RosterError) as caught, app_context.db.begin() as db:
        import_roster(db, "Uni", write(tmp_path, "r.csv", broken))
    assert "r.csv, line" in str(caught.value)
    extra = "role,id,full_name\nstudent,1,One\nstudent,2,Two,extra,columns\n"
    with (
        pytest.raises(RosterError, match="line 3: 5 columns, the header has 3"),
        app_context.db.begin() as db,
    ):
        import_roster(db, "Uni", write(tmp_path, "x.csv", extra))
    (tmp_path / "latin1.csv").write_bytes("role,full_name\nstudent,Jos\xe9\n".encode("latin-1"))
    with pytest.raises(RosterError, match="not UTF-8"), app_context.db.begin() as db:
        import_roster(db, "Uni", tmp_path / "latin1.csv")
    with pytest.raises(RosterError, match="file not found"), app_context.db.begin() as db:
        import_roster(db, "Uni", tmp_path / "missing.csv")


def test_xlsx_roster(app_context, tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for line in ROSTER.strip().splitlines():
        sheet.append(line.split(","))
    book.save(tmp_path / "r.xlsx")
    avail = openpyxl.Workbook()
    avail.active.append(["examiner", "date", "start", "end"])
    avail.active.append(["ivanov", dt.datetime(2026, 6, 15), dt.time(9, 0), dt.time(12, 0)])
    avail.save(tmp_path / "a.xlsx")
    with app_context.db.begin() as db:
        summary = import_roster(db, "Uni", tmp_path / "r.xlsx", tmp_path / "a.xlsx")
    assert summary.created == 5 and summary.windows == 1
