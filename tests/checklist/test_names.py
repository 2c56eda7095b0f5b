from proctorbot.checklist.names import match_name


def test_same_name_in_other_order_and_case() -> None:
    assert match_name("Иванов Иван Петрович", "ИВАНОВ\nИВАН ПЕТРОВИЧ").matched
    assert match_name("Иванов Иван Петрович", "меня зовут Иван Иванов").matched


def test_latin_transcript_and_yo() -> None:
    assert match_name("Ёлкина Юлия", "Yolkina Yulia").matched
    assert match_name("Щукин Артём", "Shchukin Artem").matched


def test_ocr_slip_passes_other_person_fails() -> None:
    assert match_name("Константинопольский Александр", "КОНСТАНТИНОПОЛЬСКИИ АЛЕКСАНДР").matched
    result = match_name("Иванов Иван", "Петров Пётр")
    assert not result.matched and result.score < 0.8
    assert not match_name("Иванов Иван", "").matched
