"""``proctorbot recording finalize SESSION``: put a session folder in order after a crash.

Lists the segments a killed bot left open (``complete: false``, with their hashes),
closes the manifest and makes the composite, exactly as a bot that ended normally.
"""

from __future__ import annotations

import time

import click


@click.group("recording")
def recording_group() -> None:
    """Recordings of sessions."""


@recording_group.command("finalize")
@click.argument("session_id")
@click.option("--composite/--no-composite", default=True, help="Also make composite.mp4.")
@click.pass_context
def finalize_command(ctx: click.Context, session_id: str, composite: bool) -> None:
    """List every file of SESSION in its manifest (after a crash) and make the composite."""
    from proctorbot.recording.manifest import write_manifest
    from proctorbot.recording.session_recorder import SessionLocked, finalize_folder

    from proctorbot.command_settings import settings_from

    settings = settings_from(ctx)
    session_dir = settings.recordings_dir / session_id
    if not session_dir.is_dir():
        raise click.ClickException(f"no recordings for session {session_id} in {session_dir}")
    try:
        manifest = finalize_folder(session_dir, session_id)
    except SessionLocked as exc:
        raise click.ClickException(f"{exc}; stop that bot first") from None
    except OSError as exc:
        raise click.ClickException(_cannot_write(session_dir, exc)) from None
    if composite:
        from proctorbot.recording.composite import COMPOSITE_NAME, build_composite, composite_record

        try:
            made = build_composite(session_dir, manifest, session_dir / COMPOSITE_NAME)
        except (OSError, RuntimeError) as exc:
            click.echo(
                f"Warning: composite.mp4 not made ({_first_line(exc)}); "
                "the recordings are listed, run finalize again to make it",
                err=True,
            )
            made = None
        if made is not None:
            manifest.files = [f for f in manifest.files if f.kind != "composite"]
            manifest.files.append(composite_record(manifest, made))
    manifest.ended_at = manifest.ended_at or round(time.time(), 3)
    try:
        write_manifest(session_dir, manifest)
    except OSError as exc:
        raise click.ClickException(_cannot_write(session_dir, exc)) from None
    click.echo(f"{session_dir}: {len(manifest.files)} files in manifest.json")


def _first_line(exc: BaseException) -> str:
    text = (getattr(exc, "strerror", None) or str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _cannot_write(session_dir: object, exc: OSError) -> str:
    """One line for a disk that refuses the manifest (full, read-only)."""
    return (
        f"cannot write the manifest in {session_dir}: {_first_line(exc)}; the recordings "
        "and the old manifest.json are untouched. Free some space and run finalize again"
    )


def register(group: click.Group) -> None:
    group.add_command(recording_group)
