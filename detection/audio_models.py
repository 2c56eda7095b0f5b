"""One owner for the audio models of a process: loaded lazily, once, from local files."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from proctorbot.config.settings import DetectionSettings
from proctorbot.detection import model_files
from proctorbot.detection.campplus import CampPlusEmbedder
from proctorbot.detection.overlap import OverlapScorer, load_segmentation_model
from proctorbot.detection.speech_activity import StreamingVad


class AudioModels:
    """Holds CAM++, silero-vad and segmentation-3.0; share one instance per process or test session."""

    def __init__(self, settings: DetectionSettings, cache_dir: Path | None = None) -> None:
        os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
        self.settings = settings
        self.cache_dir = cache_dir
        if settings.torch_threads > 0:
            torch.set_num_threads(settings.torch_threads)
        self._embedder: CampPlusEmbedder | None = None
        self._segmentation: torch.nn.Module | None = None
        self._overlap: OverlapScorer | None = None

    @property
    def embedder(self) -> CampPlusEmbedder:
        if self._embedder is None:
            self._embedder = CampPlusEmbedder(model_files.campplus_weights(self.settings))
        return self._embedder

    @property
    def segmentation(self) -> torch.nn.Module:
        if self._segmentation is None:
            self._segmentation = load_segmentation_model(
                model_files.segmentation_checkpoint(self.settings)
            )
        return self._segmentation

    @property
    def overlap(self) -> OverlapScorer:
        if self._overlap is None:
            self._overlap = OverlapScorer(self.segmentation)
        return self._overlap

    def new_vad(self) -> StreamingVad:
        """A VAD with its own recurrent state (one per track)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from silero_vad import load_silero_vad

            return StreamingVad(load_silero_vad(onnx=True))
