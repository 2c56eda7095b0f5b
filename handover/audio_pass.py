"""The full audio pass after a session: speech, diarization and transcripts of every
analysis track (blocking; the hand-over runs it in threads, two at a time)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from proctorbot.handover.folder import AnalysisTrack, write_json
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE

EXAMINER_PRINT_SECONDS = 120.0


def load_track(track: AnalysisTrack) -> np.ndarray:
    """The track's samples; none for a WAV that holds only its header (a participant whose
    microphone sent nothing: nothing to find in it, not a failed step)."""
    from proctorbot.detection.audio_input import AudioInputError, load_audio

    try:
        return load_audio(track.path).samples
    except AudioInputError as exc:
        if "holds no audio samples" in str(exc):
            return np.zeros(0, dtype=np.float32)
        raise


class FullAudioPass:
    """Speech, diarization and transcripts of a session folder (blocking; run in a thread)."""

    def __init__(
        self,
        models: Any,  # detection.audio_models.AudioModels
        transcriber: Callable[[], Any] | None = None,  # -> detection.transcription.Transcriber
        language: str | None = None,
    ) -> None:
        self.models = models
        self.transcriber = transcriber
        self.language = language
        self._audio: dict[Path, np.ndarray] = {}
        self._audio_lock = threading.Lock()  # diarization and transcripts run side by side
        self._engine = ""

    def samples(self, track: AnalysisTrack) -> np.ndarray:
        with self._audio_lock:
            if track.path not in self._audio:
                self._audio[track.path] = load_track(track)
            return self._audio[track.path]

    def has_speech(self, track: AnalysisTrack) -> bool:
        samples = self.samples(track)
        if samples.size == 0:
            return False
        vad = self.models.new_vad()
        vad.feed(samples)
        return bool(vad.segments())

    def speech(self, session_dir: Path, tracks: list[AnalysisTrack]) -> dict[str, list[dict]]:
        result: dict[str, list[dict[str, float]]] = {}
        for track in tracks:
            vad = self.models.new_vad()
            vad.feed(self.samples(track))
            spans = result.setdefault(track.participant, [])
            for segment in vad.segments():
                spans.append(
                    {
                        "start": round(track.offset + segment.start, 3),
                        "end": round(track.offset + segment.end, 3),
                    }
                )
        write_json(session_dir / "speech.json", result)
        return result

    def diarize(self, session_dir: Path, tracks: list[AnalysisTrack]) -> dict[str, Any]:
        from proctorbot.bot.resume import load_voiceprint
        from proctorbot.detection.diarization import StudentTrackDiarizer
        from proctorbot.detection.voiceprint import enroll

        students = [t for t in tracks if t.role == "student"]
        if not students:
            raise LookupError("no analysis track of a student in the manifest")
        student_print = load_voiceprint(session_dir)
        examiner_print = None
        examiners = [t for t in tracks if t.role == "examiner"]
        if examiners and self.samples(examiners[0]).size:
            head = self.samples(examiners[0])[: int(EXAMINER_PRINT_SECONDS * SAMPLE_RATE)]
            examiner_print = enroll(head, self.models.embedder, self.models.new_vad()).voiceprint
        diarizer = StudentTrackDiarizer(self.models)
        out: dict[str, Any] = {"tracks": []}
        for track in students:
            found = diarizer.diarize(
                self.samples(track), track.participant, student_print, examiner_print
            )
            rttm = session_dir / "diarization" / f"{track.participant}.rttm"
            rttm.parent.mkdir(parents=True, exist_ok=True)
            rttm.write_text(found.to_rttm(), encoding="utf-8")
            data = found.to_json()
            for turn in data["turns"]:
                turn["start"] = round(turn["start"] + track.offset, 3)
                turn["end"] = round(turn["end"] + track.offset, 3)
            data.update(
                participant=track.participant,
                offset=track.offset,
                rttm=str(rttm.relative_to(session_dir)),
            )
            out["tracks"].append(data)
        write_json(session_dir / "diarization.json", out)
        return out

    def transcribe(self, session_dir: Path, tracks: list[AnalysisTrack]) -> list[dict[str, Any]]:
        """Every track through Whisper → ``transcript.json``; ``label_voices`` adds ``voice``."""
        if self.transcriber is None:
            raise RuntimeError("no speech-to-text engine installed")
        engine = self.transcriber()
        segments: list[dict[str, Any]] = []
        for track in tracks:
            if not self.has_speech(track):
                continue  # Whisper on a track without speech only makes up words, slowly
            transcript = engine.transcribe(self.samples(track), self.language)
            for seg in transcript.segments:
                line = {
                    "start": round(track.offset + seg.start, 3),
                    "end": round(track.offset + seg.end, 3),
                    "speaker": track.participant,
                    "role": track.role,
                    "text": seg.text.strip(),
                    "words": [
                        {
                            "start": round(track.offset + w.start, 3),
                            "end": round(track.offset + w.end, 3),
                            "text": w.text,
                            "probability": w.probability,
                        }
                        for w in seg.words
                    ],
                }
                if line["text"]:
                    segments.append(line)
        segments.sort(key=lambda s: (s["start"], s["speaker"]))
        self._engine = engine.engine
        self._write_transcript(session_dir, segments)
        return segments

    def label_voices(
        self, session_dir: Path, segments: list[dict[str, Any]], diarization: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """Each student line gets ``voice``: the diarization role that covers most of it."""
        turns = [
            (turn["start"], turn["end"], turn["speaker"].split(":", 1)[0])
            for item in (diarization or {}).get("tracks", [])
            for turn in item["turns"]
        ]
        for line in segments:
            if line["role"] == "student" and turns:
                line["voice"] = voice_of(line["start"], line["end"], turns)
        self._write_transcript(session_dir, segments)
        return segments

    def _write_transcript(self, session_dir: Path, segments: list[dict[str, Any]]) -> None:
        write_json(
            session_dir / "transcript.json",
            {"language": self.language or "", "engine": self._engine, "segments": segments},
        )


def voice_of(start: float, end: float, turns: list[tuple[float, float, str]]) -> str:
    """The diarization role (student / examiner-echo / unknown) covering most of a line."""
    cover: dict[str, float] = {}
    for a, b, role in turns:
        shared = min(end, b) - max(start, a)
        if shared > 0:
            cover[role] = cover.get(role, 0.0) + shared
    return max(cover, key=cover.__getitem__) if cover else "unknown"
