"""`proctorbot analyze-audio`, `diarize` and `transcribe`: the audio detectors on WAV files."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from proctorbot.commands_core import settings_from

LONG_FILE_SECONDS = 60.0
existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@contextmanager
def _progress(total_samples: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for long files; nothing for short ones."""
    if total_samples < LONG_FILE_SECONDS * 16000:
        yield None
        return
    with click.progressbar(length=total_samples, label=label, file=sys.stderr) as bar:
        yield bar.update


def _fail_cleanly(func: Callable[[], None]) -> None:
    from proctorbot.detection.audio_input import AudioInputError
    from proctorbot.detection.model_files import ModelMissingError

    try:
        func()
    except (AudioInputError, ModelMissingError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command("analyze-audio")
@click.argument("student", type=existing_file)
@click.option(
    "--enroll", "enroll_path", type=existing_file, help="The student's enrollment speech (≥ 3 s)."
)
@click.option(
    "--examiner",
    "examiner_path",
    type=existing_file,
    help="The examiner's own track (echo suppression).",
)
@click.option(
    "--evidence-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write 5-s evidence clips here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def analyze_audio_command(
    ctx: click.Context,
    student: Path,
    enroll_path: Path | None,
    examiner_path: Path | None,
    evidence_dir: Path | None,
    as_json: bool,
) -> None:
    """Find third-party voices and overlapped speech on a student's track."""
    settings = settings_from(ctx)

    def run() -> None:
        from proctorbot.detection.audio_analysis import analyze_files
        from proctorbot.detection.audio_input import load_audio
        from proctorbot.detection.audio_models import AudioModels

        models = AudioModels(settings.detection, settings.detection.model_cache_dir)
        total = len(load_audio(student).samples)
        with _progress(total, "analysing") as progress:
            analysis = analyze_files(
                models, student, enroll_path, examiner_path, evidence_dir, progress
            )
        for message in analysis.messages:
            click.echo(f"note: {message}", err=True)
        if as_json:
            click.echo(json.dumps(analysis.to_json()))
            return
        click.echo(f"speech segments: {len(analysis.speech)}")
        for kind, items in (
            ("third-party voice", analysis.third_party),
            ("overlapped speech", analysis.overlap),
        ):
            for item in items:
                click.echo(
                    f"{kind}: {item['start']:.2f}-{item['end']:.2f} s  score {item['score']:.2f}"
                )
        if not analysis.third_party and not analysis.overlap:
            click.echo("no third-party voice found")

    _fail_cleanly(run)


@click.command("transcribe")
@click.argument("audio", type=existing_file)
@click.option(
    "--language", type=click.Choice(["ru", "en"]), help="Force the language (detected otherwise)."
)
@click.option(
    "--engine",
    type=click.Choice(["faster-whisper", "openai-whisper"]),
    help="Override the setting.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with word timestamps.")
@click.pass_context
def transcribe_command(
    ctx: click.Context, audio: Path, language: str | None, engine: str | None, as_json: bool
) -> None:
    """Transcribe a track with word timestamps (Whisper, offline)."""
    settings = settings_from(ctx)

    def run() -> None:
        from proctorbot.detection.audio_input import load_audio
        from proctorbot.detection.transcription import build_transcriber

        loaded = load_audio(audio)
        for message in loaded.warnings:
            click.echo(f"note: {audio.name}: {message}", err=True)
        detection = settings.detection
        if engine:
            detection = detection.model_copy(update={"whisper_engine": engine})
        transcriber = build_transcriber(detection, detection.model_cache_dir)
        transcript = transcriber.transcribe(loaded.samples, language)
        if as_json:
            click.echo(json.dumps(transcript.to_json(), ensure_ascii=False, default=float))
        else:
            for seg in transcript.segments:
                click.echo(f"[{seg.start:7.2f} - {seg.end:7.2f}] {seg.text}")

    _fail_cleanly(run)


def register(group: click.Group) -> None:
    group.add_command(analyze_audio_command)
    group.add_command(transcribe_command)
