"""Shared fixtures: settings in a temporary folder, a migrated database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")

# running_server, fake_media, playwright_async ... (see tests/browser_helpers.py)
pytest_plugins = ("tests.browser_helpers",)

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
EVALDATA_DIR = SHARED_DIR / "evaldata"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from proctorbot.config.settings import load_settings

    monkeypatch.delenv("PROCTORBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return load_settings(data_dir=tmp_path / "var")


@pytest.fixture
def app_context(settings):
    from proctorbot.context import AppContext

    context = AppContext.build(settings)
    yield context
    context.engine.dispose()


@pytest.fixture
def evaldata() -> Path:
    """../shared/evaldata, or skip: a user's fresh clone has none."""
    if not EVALDATA_DIR.is_dir():
        pytest.skip("../shared/evaldata is absent (only present in the development workspace)")
    return EVALDATA_DIR


def pytest_collection_modifyitems(config, items) -> None:
    """Browser end-to-end tests get one re-run: real Chromium + WebRTC on a loaded 2-core
    machine has timing noise (ICE, keyframes, the fake devices' loops) that says nothing
    about the product. A real breakage fails both runs; the re-run is reported."""
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2))
