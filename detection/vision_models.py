"""Where the offline face models come from, and the error when they are missing.

The models ship inside PyPI packages (``dlib-bin`` for the HOG detector,
``face-recognition-models`` for the 68-point landmark and the ResNet encoder
weights), so nothing is downloaded at run time. We locate the files through
``importlib`` instead of importing ``face_recognition_models``, whose
``pkg_resources`` import warns on every start.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

INSTALL_HINT = (
    "install the face models: "
    "`pip install dlib-bin face-recognition-models` (both ship the weights; nothing is downloaded)"
)


class VisionModelMissing(RuntimeError):
    """A face model or library is not installed; the message says what to install."""


def import_dlib():  # noqa: ANN201 - dlib has no type stubs
    try:
        import dlib
    except ImportError as exc:
        raise VisionModelMissing(f"dlib is not installed; {INSTALL_HINT}") from exc
    return dlib


def face_model_path(file_name: str, models_dir: Path | None = None) -> Path:
    """The path of one ``face_recognition_models`` file (or of one in ``models_dir``)."""
    if models_dir is not None:
        path = Path(models_dir) / file_name
    else:
        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or not spec.submodule_search_locations:
            raise VisionModelMissing(f"face-recognition-models is not installed; {INSTALL_HINT}")
        path = Path(next(iter(spec.submodule_search_locations))) / "models" / file_name
    if not path.is_file():
        raise VisionModelMissing(f"face model file not found: {path}; {INSTALL_HINT}")
    return path


LANDMARKS_68 = "shape_predictor_68_face_landmarks.dat"
FACE_ENCODER = "dlib_face_recognition_resnet_model_v1.dat"
