"""The command line end to end: import, plan with CSV and ICS, jobs stored."""

from pathlib import Path

from click.testing import CliRunner

from proctorbot.cli import cli
from tests.scheduling.test_roster import AVAIL, ROSTER, write


def run(settings, *args: str):
    env = {"PROCTORBOT_DATA_DIR": str(settings.data_dir)}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_import_plan_export_and_jobs(settings, tmp_path: Path) -> None:
    roster = write(
        tmp_path, "r.csv", ROSTER + "student,1003,Third Student,t@mail.example,,A-2,math,en,\n"
    )
    avail = write(tmp_path, "a.csv", AVAIL.replace("2026-06-15", "2027-06-15"))
    result = run(settings, "import-roster", str(roster), "--availability", str(avail), "-o", "Uni")
    assert result.exit_code == 0, result.output
    assert "3 student(s)" in result.output and "2 availability window(s)" in result.output

    result = run(
        settings,
        "plan",
        "2027-06-15",
        "-o",
        "Uni",
        "--exam",
        "math",
        "--title",
        "Math",
        "--exam-minutes",
        "40",
        "--break",
        "11:00-11:30",
        "--csv",
        str(tmp_path / "day.csv"),
        "--ics",
        str(tmp_path / "day.ics"),
    )
    assert result.exit_code == 0, result.output
    csv_text = (tmp_path / "day.csv").read_text()
    assert csv_text.count("/call?t=") == 6  # a student link and an examiner link per slot
    assert "BEGIN:VEVENT" in (tmp_path / "day.ics").read_text()
    # the profile's 3 reminders + bot join + no-show check + post-session, per slot
    # per slot: one reminder per profile offset (4) + bot join + no-show check + post-session
    # and per slot a test call the day before (the profile's [trial_call]): its 2 reminders
    # + bot join + post-session, then the organizers' list of the results: 3 * 4 + 1
    assert "34 job(s) scheduled" in result.output
    assert result.output.count("test call 2027-06-14 ") == 3
    assert "3 slot(s) planned, 0 conflict(s)" in result.output

    jobs = run(settings, "jobs")
    assert "34 job(s)" in jobs.output and "bot_join:" in jobs.output
    assert "trial_summary:" in jobs.output
    listing = run(settings, "trial-calls", "2027-06-15", "-o", "Uni", "--language", "en")
    assert listing.exit_code == 0 and listing.output.count("no test call") == 0
    assert listing.output.count("not held yet") == 3, listing.output

    again = run(settings, "plan", "2027-06-15", "-o", "Uni")
    assert again.exit_code == 1 and "nobody to plan" in again.output


def test_bad_roster_exits_with_line_numbers(settings, tmp_path: Path) -> None:
    roster = write(tmp_path, "r.csv", "role,id,full_name\nstudent,1,\nstudent,1,Dup\n")
    result = CliRunner().invoke(
        cli, ["import-roster", str(roster)], env={"PROCTORBOT_DATA_DIR": str(settings.data_dir)}
    )
    assert result.exit_code == 1
    assert "nothing imported" in result.output
    assert "r.csv, line 2: full_name is empty" in result.output


def test_conflicts_give_exit_status_2(settings, tmp_path: Path) -> None:
    roster = write(tmp_path, "r.csv", ROSTER)
    avail = write(tmp_path, "a.csv", "examiner,date,start,end\nivanov,2026-06-15,09:00,10:00\n")
    run(settings, "import-roster", str(roster), "-a", str(avail), "-o", "Uni")
    result = CliRunner().invoke(
        cli,
        ["plan", "2026-06-15", "-o", "Uni", "--no-jobs"],
        env={"PROCTORBOT_DATA_DIR": str(settings.data_dir)},
    )
    assert result.exit_code == 2
    assert "CONFLICT" in result.output and "1 slot(s) planned, 1 conflict(s)" in result.output
