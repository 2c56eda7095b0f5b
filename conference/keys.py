"""Keys the conference puts in the aiohttp app (other areas read or extend them)."""

from __future__ import annotations

from aiohttp import web
from proctorbot.conference.rooms import RoomRegistry

# The live rooms of this server process.
ROOMS = web.AppKey("proctorbot.conference.rooms", RoomRegistry)
# URLs of extra scripts the call page loads into the examiner panel (`<div id="panel">`).
# An area's `setup` appends its own, e.g. "/checklist/static/panel.js"; files in
# conference/static/areas/*.js are listed automatically.
PANEL_SCRIPTS = web.AppKey("proctorbot.conference.panel_scripts", list[str])
