"""HTTP pages: the call page `GET /call?t=TOKEN` and the refusal page for bad links."""

from __future__ import annotations

import asyncio
import json
import logging
from html import escape
from pathlib import Path
from string import Template

from aiohttp import web
from proctorbot.conference.admission import Admission, Refusal, admit
from proctorbot.conference.extra_sources import page_sources
from proctorbot.conference.keys import PANEL_SCRIPTS
from proctorbot.config.catalogue import LANGUAGES, Catalogue

from proctorbot.context import CONTEXT

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def load_template(name: str) -> Template:
    return Template((TEMPLATES_DIR / name).read_text(encoding="utf-8"))


def page_texts() -> dict[str, dict[str, str]]:
    """The call page's texts in every language, so the page can switch without reload."""
    return {lang: Catalogue.load(lang).section("conference") for lang in LANGUAGES}


def panel_script_urls(app: web.Application) -> list[str]:
    built_in = [f"/static/areas/{p.name}" for p in sorted((STATIC_DIR / "areas").glob("*.js"))]
    return built_in + list(app[PANEL_SCRIPTS])


async def call_page(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    try:  # a database read: in a thread, so a locked database never stalls the loop
        admission = await asyncio.to_thread(admit, ctx, request.query.get("t", ""))
    except Refusal as refusal:
        log.warning("call page refused (%s): %s", refusal.reason, refusal)
        return refusal_page(refusal)
    texts = page_texts()
    language = admission.language if admission.language in LANGUAGES else ctx.settings.language
    if admission.device:  # a device's own link (the phone's QR): that device's page
        return device_page(request.query["t"], admission, language, texts)
    scripts = panel_script_urls(request.app)
    sources = await asyncio.to_thread(page_sources, admission.profile, ctx.settings.default_profile)
    config = {
        "token": request.query["t"],
        "ws_path": "/ws",
        "session_id": admission.session_id,
        "title": admission.session_title,
        "role": admission.role,
        "name": admission.name,
        "language": language,
        "timezone": admission.timezone,
        "texts": texts,
        "panel_scripts": scripts,
        # the student's sources besides camera and microphone (conference/extra_sources.py)
        "sources": sources.to_json() if admission.role == "student" else {},
    }
    # `<` escaped so nothing in the JSON can close the <script> element.
    config_json = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    html = load_template("call.html").substitute(
        lang=language,
        title=escape(f"{admission.session_title} — {texts[language]['page.title']}"),
        heading=escape(admission.session_title),
        role=escape(admission.role),
        config_json=config_json,
        panel_scripts="\n".join(f'<script src="{escape(u)}" defer></script>' for u in scripts),
    )
    return web.Response(
        text=html,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def device_page(
    token: str, admission: Admission, language: str, texts: dict[str, dict[str, str]]
) -> web.Response:
    """The page of a person's second device (the phone as a side camera): camera only."""
    config = {
        "token": token,
        "ws_path": "/ws",
        "device": admission.device,
        "session_id": admission.session_id,
        "title": admission.session_title,
        "name": admission.name,
        "language": language,
        "texts": texts,
    }
    config_json = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    html = load_template("phone.html").substitute(
        lang=language,
        title=escape(f"{admission.session_title} — {texts[language]['phone.title']}"),
        heading=escape(admission.session_title),
        config_json=config_json,
    )
    return web.Response(
        text=html,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def refusal_page(refusal: Refusal) -> web.Response:
    """A clear page in Russian and English; the status tells machines the same."""
    ru, en = Catalogue.load("ru"), Catalogue.load("en")
    key = f"conference.refusal.{refusal.reason}"
    if key not in ru.texts:
        key = "conference.refusal.malformed"
    html = load_template("refusal.html").substitute(
        reason=escape(refusal.reason),
        status=refusal.status,
        title_ru=escape(ru.text("conference.refusal.title")),
        title_en=escape(en.text("conference.refusal.title")),
        text_ru=escape(ru.text(key)),
        text_en=escape(en.text(key)),
        help_ru=escape(ru.text("conference.refusal.help")),
        help_en=escape(en.text("conference.refusal.help")),
    )
    return web.Response(
        text=html,
        status=refusal.status,
        content_type="text/html",
        headers={"Cache-Control": "no-store"},
    )
