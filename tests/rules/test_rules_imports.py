"""rules/ sits between detection and the report: events in, findings out, nothing later."""

import ast
from pathlib import Path

import proctorbot.rules

ALLOWED = ("proctorbot.rules", "proctorbot.config", "proctorbot.detection.events")
ALLOWED_MODULES = {"proctorbot.recording.manifest"}  # RECORDING_FAULT_REASONS


def test_rules_import_direction_only_profiles_events_and_fault_reasons() -> None:
    folder = Path(proctorbot.rules.__file__).parent
    imported: set[str] = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    ours = {name for name in imported if name.startswith("proctorbot")}
    assert ours, "the scan sees the imports"
    stray = {name for name in ours if not name.startswith(ALLOWED) and name not in ALLOWED_MODULES}
    assert stray == set()
