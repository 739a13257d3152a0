"""Real headless Chromium for the browser tests (Debian's chromium + chromium-driver).

Nothing downloads a browser: the binary and the driver are given by path and Selenium Manager
is told to stay offline. Tests skip (with the reason) where either is missing.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
T = TypeVar("T")


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(tool) or shutil.which(tool)):
            return f"{tool} not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed (pip install -e '.[dev]')"
    return None


def start_chromium(width: int = 1360, height: int = 900) -> WebDriver:
    """A headless Chromium session driven through the system chromedriver."""
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager never fetches a browser or a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--autoplay-policy=no-user-gesture-required",
        "--mute-audio",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--disable-background-networking",
        "--no-first-run",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    return driver


def wait_for(check: Callable[[], T], timeout: float = 10.0, what: str = "the page") -> T:
    """Poll ``check`` until it returns something true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as e:  # an element not there yet, a stale one
            last = e
        else:
            if last:
                return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


def screenshot(driver: WebDriver, folder: Path, name: str) -> Path:
    """A full-page PNG of what the browser shows, saved as ``folder/name.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    size = driver.get_window_size()
    height = driver.execute_script("return Math.max(document.body.scrollHeight, window.innerHeight)")
    driver.set_window_size(size["width"], min(int(height) + size["height"] - _inner_height(driver), 4000))
    path = folder / f"{name}.png"
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(size["width"], size["height"])
    return path


def _inner_height(driver: WebDriver) -> int:
    return int(driver.execute_script("return window.innerHeight"))
