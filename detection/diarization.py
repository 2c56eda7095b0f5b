"""After the session: who spoke when on the student's track, each cluster labelled.

pyannote.audio's ``SpeakerDiarization`` pipeline, fully offline: segmentation-3.0 from a
local file, CAM++ wrapped as a pyannote embedding model, ``AgglomerativeClustering`` (the
VBx/PLDA path would fetch its PLDA from the hub, so a placeholder stands in for it). A user
with the real ``pyannote/speaker-diarization-community-1`` downloaded sets
``detection.diarization_pipeline`` to its folder and that pipeline runs instead.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from proctorbot.detection.audio_models import AudioModels
from proctorbot.detection.campplus import EMBEDDING_DIM, CampPlusEmbedder
from proctorbot.detection.voiceprint import Voiceprint
from proctorbot.storage.session_folder import ANALYSIS_SAMPLE_RATE as SAMPLE_RATE

MAX_EMBED_SECONDS = 5.0  # per (chunk, local speaker): enough for CAM++, bounds the cost
STUDENT, EXAMINER_ECHO, UNKNOWN = "student", "examiner-echo", "unknown"

# Tuned on the pyannote sample and the AMI debug excerpts (benchmarks/voices.py).
DEFAULT_PARAMETERS: dict[str, Any] = {
    "segmentation": {"min_duration_off": 0.0},
    "clustering": {"method": "centroid", "min_cluster_size": 3, "threshold": 0.75},
}


def _pyannote() -> Any:
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyannote.audio as pa

    return pa


def campplus_as_pyannote_model(embedder: CampPlusEmbedder) -> torch.nn.Module:
    """CAM++ behind pyannote's ``Model`` interface: ``forward(waveforms, weights=None)``."""
    Model = _pyannote().Model

    class CampPlusPyannote(Model):
        def __init__(self) -> None:
            super().__init__(sample_rate=SAMPLE_RATE, num_channels=1)
            self.embedder = embedder

        @property
        def dimension(self) -> int:
            return EMBEDDING_DIM

        def forward(
            self, waveforms: torch.Tensor, weights: torch.Tensor | None = None
        ) -> torch.Tensor:
            out = torch.full((waveforms.shape[0], EMBEDDING_DIM), float("nan"))
            for i, wave in enumerate(waveforms[:, 0]):
                if weights is not None:
                    # keep the samples of frames where this local speaker is active
                    mask = weights[i].float()
                    per_sample = torch.nn.functional.interpolate(
                        mask[None, None], size=wave.shape[-1], mode="nearest"
                    )[0, 0]
                    wave = wave[per_sample > 0.5]
                wave = wave[: int(MAX_EMBED_SECONDS * SAMPLE_RATE)]
                if wave.shape[-1] < embedder.min_samples:
                    continue  # NaN: pyannote drops it before clustering
                out[i] = embedder.embed_batch(wave[None])[0]
            return out

    return CampPlusPyannote().eval()


def _placeholder_plda() -> Any:
    """A PLDA instance the pipeline can hold; agglomerative clustering never calls it."""
    from pyannote.audio.core.plda import PLDA

    return PLDA.__new__(PLDA)


@dataclass
class SpeakerCluster:
    label: str  # pipeline label, e.g. SPEAKER_00
    role: str  # student / examiner-echo / unknown
    seconds: float
    student_similarity: float | None = None
    examiner_similarity: float | None = None


@dataclass
class Diarization:
    annotation: Any  # pyannote.core.Annotation with role-prefixed labels
    clusters: list[SpeakerCluster] = field(default_factory=list)

    def to_rttm(self) -> str:
        return self.annotation.to_rttm()

    def to_json(self) -> dict[str, Any]:
        return {
            "uri": self.annotation.uri,
            "turns": [
                {"start": round(seg.start, 3), "end": round(seg.end, 3), "speaker": label}
                for seg, _, label in self.annotation.itertracks(yield_label=True)
            ],
            "clusters": [c.__dict__ for c in self.clusters],
        }


class StudentTrackDiarizer:
    """Owns one pyannote pipeline; labels clusters with the student's and examiner's voiceprints."""

    def __init__(self, models: AudioModels, similarity_threshold: float | None = None) -> None:
        self.models = models
        self.threshold = (
            similarity_threshold
            if similarity_threshold is not None
            else models.settings.voice_similarity_threshold
        )
        self._pipeline: Any = None
        self.uses_community_pipeline = models.settings.diarization_pipeline is not None

    @property
    def pipeline(self) -> Any:
        if self._pipeline is None:
            self._pipeline = self._build()
        return self._pipeline

    def _build(self) -> Any:
        pa = _pyannote()
        configured = self.models.settings.diarization_pipeline
        if configured is not None:
            path = Path(configured)
            if not path.exists():
                from proctorbot.detection.model_files import ModelMissingError

                raise ModelMissingError(f"diarization pipeline not found at {path}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return pa.Pipeline.from_pretrained(str(path))
        from pyannote.audio.pipelines import SpeakerDiarization

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline = SpeakerDiarization(
                segmentation=self.models.segmentation,
                segmentation_step=0.5,
                embedding=campplus_as_pyannote_model(self.models.embedder),
                plda=_placeholder_plda(),
                clustering="AgglomerativeClustering",
                embedding_batch_size=1,
            )
        return pipeline.instantiate(DEFAULT_PARAMETERS)

    def diarize(
        self,
        samples: np.ndarray,
        uri: str = "audio",
        student: Voiceprint | None = None,
        examiner: Voiceprint | None = None,
        hook: Callable[..., Any] | None = None,
    ) -> Diarization:
        file = {
            "waveform": torch.from_numpy(samples.astype(np.float32))[None],
            "sample_rate": SAMPLE_RATE,
            "uri": uri,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            output = self.pipeline(file, hook=hook) if hook else self.pipeline(file)
        annotation = getattr(output, "speaker_diarization", output)
        centroids = getattr(output, "speaker_embeddings", None)
        labels = annotation.labels()
        clusters = self._label(samples, annotation, labels, centroids, student, examiner)
        mapping = {c.label: f"{c.role}:{c.label}" for c in clusters}
        renamed = annotation.rename_labels(mapping)
        renamed.uri = uri
        return Diarization(renamed, clusters)

    def _label(
        self,
        samples: np.ndarray,
        annotation: Any,
        labels: list[str],
        centroids: np.ndarray | None,
        student: Voiceprint | None,
        examiner: Voiceprint | None,
    ) -> list[SpeakerCluster]:
        seconds = {label: float(annotation.label_duration(label)) for label in labels}
        clusters: list[SpeakerCluster] = []
        for i, label in enumerate(labels):
            emb = self._cluster_embedding(samples, annotation, label, centroids, i)
            s_sim = student.similarity(emb) if (student is not None and emb is not None) else None
            e_sim = examiner.similarity(emb) if (examiner is not None and emb is not None) else None
            role = UNKNOWN
            if e_sim is not None and e_sim >= self.threshold and (s_sim is None or e_sim > s_sim):
                role = EXAMINER_ECHO
            elif s_sim is not None and s_sim >= self.threshold:
                role = STUDENT
            clusters.append(SpeakerCluster(label, role, round(seconds[label], 3), s_sim, e_sim))
        if student is None and clusters:
            # no voiceprint: the student is the one who talks most on their own microphone
            main = max(clusters, key=lambda c: c.seconds)
            if main.role == UNKNOWN:
                main.role = STUDENT
        return clusters

    def _cluster_embedding(
        self,
        samples: np.ndarray,
        annotation: Any,
        label: str,
        centroids: np.ndarray | None,
        index: int,
    ) -> np.ndarray | None:
        if (
            centroids is not None
            and index < len(centroids)
            and not np.any(np.isnan(centroids[index]))
        ):
            vec = np.asarray(centroids[index], dtype=np.float32)
            return vec / max(float(np.linalg.norm(vec)), 1e-9)
        parts = [
            samples[int(seg.start * SAMPLE_RATE) : int(seg.end * SAMPLE_RATE)]
            for seg in annotation.label_timeline(label)
        ]
        audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        if len(audio) < self.models.embedder.min_samples:
            return None
        return self.models.embedder.embed(audio[: 30 * SAMPLE_RATE])
