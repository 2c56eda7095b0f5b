"""`proctorbot analyze-audio`, `diarize` and `transcribe`: the audio detectors on WAV files."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE

from proctorbot.command_settings import settings_from

LONG_FILE_SECONDS = 60.0
existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@contextmanager
def _progress(total_samples: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for long files; nothing for short ones."""
    if total_samples < LONG_FILE_SECONDS * ANALYSIS_SAMPLE_RATE:
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


@click.command("diarize")
@click.argument("audio", type=existing_file)
@click.option(
    "--rttm",
    "rttm_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write RTTM here.",
)
@click.option(
    "--enroll",
    "enroll_path",
    type=existing_file,
    help="The student's enrollment speech: labels clusters.",
)
@click.option(
    "--examiner",
    "examiner_path",
    type=existing_file,
    help="The examiner's track: labels their echo.",
)
@click.option("--json", "as_json", is_flag=True, help="Also print turns and cluster roles as JSON.")
@click.pass_context
def diarize_command(
    ctx: click.Context,
    audio: Path,
    rttm_path: Path,
    enroll_path: Path | None,
    examiner_path: Path | None,
    as_json: bool,
) -> None:
    """Who spoke when (pyannote, offline); clusters labelled student / examiner-echo / unknown."""
    settings = settings_from(ctx)

    def run() -> None:
        from proctorbot.detection.audio_input import load_audio
        from proctorbot.detection.audio_models import AudioModels
        from proctorbot.detection.diarization import StudentTrackDiarizer
        from proctorbot.detection.voiceprint import enroll

        models = AudioModels(settings.detection, settings.detection.model_cache_dir)
        loaded = load_audio(audio)
        for message in loaded.warnings:
            click.echo(f"note: {audio.name}: {message}", err=True)
        student = examiner = None
        if enroll_path is not None:
            result = enroll(load_audio(enroll_path).samples, models.embedder, models.new_vad())
            student = result.voiceprint
            for message in result.messages:
                click.echo(f"note: {message}", err=True)
        if examiner_path is not None:
            examiner = enroll(
                load_audio(examiner_path).samples, models.embedder, models.new_vad()
            ).voiceprint
        diarizer = StudentTrackDiarizer(models)
        with _progress(len(loaded.samples), "diarizing") as progress:
            hook = _pyannote_hook(progress, len(loaded.samples)) if progress else None
            diarization = diarizer.diarize(loaded.samples, audio.stem, student, examiner, hook)
        rttm_path.parent.mkdir(parents=True, exist_ok=True)
        rttm_path.write_text(diarization.to_rttm())
        if as_json:
            click.echo(json.dumps(diarization.to_json()))
        else:
            for cluster in diarization.clusters:
                click.echo(f"{cluster.label}: {cluster.role}, {cluster.seconds:.1f} s")
            click.echo(f"RTTM written to {rttm_path}")

    _fail_cleanly(run)


def _pyannote_hook(update: Callable[[int], None], total_samples: int) -> Callable[..., None]:
    """pyannote's progress hook (step, artifact, completed=, total=) → one overall bar."""
    steps = ("segmentation", "embeddings")
    done = [0]

    def hook(
        step: str,
        artifact: object,
        file: object = None,
        total: int | None = None,
        completed: int | None = None,
    ) -> None:
        if step not in steps or not total or completed is None:
            return
        target = int((steps.index(step) + completed / total) / len(steps) * total_samples)
        if target > done[0]:
            update(target - done[0])
            done[0] = target

    return hook


def register(group: click.Group) -> None:
    group.add_command(analyze_audio_command)
    group.add_command(transcribe_command)
    group.add_command(diarize_command)
