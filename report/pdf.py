"""HTML → PDF with headless Chromium (Playwright): no extra native libraries needed.

Synchronous on purpose: the CLI calls it directly, the dashboard through
``asyncio.to_thread`` (Playwright's sync API must not run inside an event loop).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


class PdfError(RuntimeError):
    """No browser to print with, or printing failed."""


def chromium_path() -> str | None:
    """``$PROCTORBOT_CHROMIUM``, the Debian chromium, or None (Playwright's own)."""
    configured = os.environ.get("PROCTORBOT_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(pairs: Sequence[tuple[Path, Path]]) -> list[Path]:
    """Print each (html file, pdf file) pair with one browser; returns the PDFs written."""
    if not pairs:
        return []
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is a dependency
        raise PdfError(f"playwright is not installed: {exc}") from None
    written = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=list(CHROMIUM_ARGS)
            )
            try:
                page = browser.new_page()
                for html, pdf in pairs:
                    page.goto(Path(html).resolve().as_uri(), wait_until="load")
                    page.emulate_media(media="print")
                    page.pdf(
                        path=str(pdf),
                        format="A4",
                        print_background=True,
                        margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"},
                    )
                    written.append(Path(pdf))
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise PdfError(f"Chromium could not print the PDF: {exc}") from None
    return written
