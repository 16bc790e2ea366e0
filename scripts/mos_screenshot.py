#!/usr/bin/env python
"""A screenshot of a study's rating page in headless Chromium (docs/images/mos_rating_page.png).

    python mos.py prepare edsr-x4 srgan-x4 --images ../shared/data/Set5 --crop 256 --seed 1 \
        --output /tmp/mos_set5
    python scripts/mos_screenshot.py /tmp/mos_set5 --output docs/images/mos_rating_page.png

The study is copied to a temporary folder and served from there, so the screenshot's rater never
reaches the study's own ratings.  That rater signs in, passes the calibration, gives ``--rated``
images a 3 (to show some progress), and the page is captured with the next image on screen.
Needs Selenium with the system's chromium and chromedriver (see sr_tf/mos/browser.py).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_tf.errors import UserError, run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("study", help="a study folder (sr-mos prepare)")
    p.add_argument("--output", required=True, help="PNG to write")
    p.add_argument("--rated", type=int, default=3, help="images rated before the capture")
    p.add_argument("--size", default="1000x640", help="browser window, WxH (default: 1000x640)")
    return p.parse_args(argv)


def wait_for(driver, condition: str, timeout: float = 30) -> None:
    """Wait until the JavaScript expression ``condition`` is true on the page."""
    deadline = time.monotonic() + timeout
    while not driver.execute_script(f"return Boolean({condition})"):
        if time.monotonic() > deadline:
            raise UserError(f"the page did not reach {condition} in {timeout} s")
        time.sleep(0.05)


def main(argv=None) -> int:
    args = parse_args(argv)
    from sr_tf.mos import browser

    reason = browser.unavailable()
    if reason:
        raise UserError(f"no browser: {reason}")
    from selenium.webdriver.common.action_chains import ActionChains
    from werkzeug.serving import make_server

    from sr_tf.fileio import atomic_output
    from sr_tf.mos.server import QuietHandler, create_app
    from sr_tf.mos.store import Store
    from sr_tf.mos.study import load_study

    width, height = (int(v) for v in args.size.lower().split("x"))
    load_study(args.study)
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "study"
        shutil.copytree(args.study, copy, ignore=shutil.ignore_patterns("ratings.sqlite*"))
        study = load_study(copy)
        app = create_app(study, Store.for_study(study))
        server = make_server("127.0.0.1", 0, app, request_handler=QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        driver = browser.start_chromium(Path(scratch) / "profile", width, height)
        try:
            driver.get(f"http://127.0.0.1:{server.port}/")
            wait_for(driver, "document.body.dataset.mode === 'signin'")
            field = driver.find_element("id", "rater")
            field.send_keys("rater-07\n")
            ready = "document.body.dataset.ready === '1'"
            for _ in range(len(study.calibration)):
                wait_for(driver, f"document.body.dataset.mode === 'calibration' && {ready}")
                ActionChains(driver).send_keys(
                    driver.execute_script("return document.body.dataset.expected")
                ).perform()
            for number in range(args.rated):
                wait_for(driver, f"document.body.dataset.mode === 'rating' && {ready}")
                ActionChains(driver).send_keys("3").perform()
                wait_for(driver, f"document.body.dataset.rated === '{number + 1}'")
            wait_for(driver, f"document.body.dataset.mode === 'rating' && {ready}")
            with atomic_output(args.output, suffix=".png") as tmp:
                driver.save_screenshot(str(tmp))
        finally:
            driver.quit()
            server.shutdown()
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
