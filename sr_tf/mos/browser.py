"""Headless Chromium through Selenium, for the browser test and the rating-page screenshot.

Selenium is a test dependency (requirements.txt), imported only when a browser is started.  The
system's ``chromium`` and ``chromedriver`` are used (Debian: ``apt-get install chromium
chromium-driver``); Selenium Manager never downloads one.  Chromium's background services are
switched off: on a machine without open internet they only fail and slow the start.
"""

from __future__ import annotations

import shutil
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--force-device-scale-factor=1",
)


def find_browser() -> tuple[str | None, str | None]:
    """Paths of a Chromium binary and of chromedriver (None for one not found)."""
    binary = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    return binary, shutil.which("chromedriver")


def unavailable() -> str | None:
    """Why no browser can be started here, or None when one can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements.txt)"
    binary, driver = find_browser()
    if binary is None:
        return "no Chromium found (apt-get install chromium)"
    if driver is None:
        return "no chromedriver found (apt-get install chromium-driver)"
    return None


def start_chromium(profile: str | Path, width: int = 1200, height: int = 860):
    """A headless Chromium (Selenium ``webdriver.Chrome``) with a fresh profile folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = find_browser()
    if binary is None or driver is None:
        raise RuntimeError(unavailable())
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))
