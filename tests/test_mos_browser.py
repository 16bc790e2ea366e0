"""The rating page in a real browser (headless Chromium driven by Selenium), end to end.

A tiny study (2 models, 3 images, 3 anchors) is served by ``mos.py serve`` as a real process.
A scripted rater signs in, goes through the calibration and rates every image by key presses;
the page is reloaded half-way and must resume at the next image; the server is killed (SIGKILL)
and restarted and no rating may be lost; a second rater signs in on the same browser; a third,
posting straight to the API, is excluded.  ``mos.py report`` must then count exactly the ratings
entered and its MOS must be their mean.

Set ``MOS_EXAMPLE_DIR`` to keep the report (docs/mos_example/ is made this way).  The
screenshot script (scripts/mos_screenshot.py, docs/images/mos_rating_page.png) is run here too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sr_tf.mos import browser
from sr_tf.mos.study import load_study
from tests.conftest import REPO

REASON = browser.unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no browser: {REASON}")

BASE_SCORES = {"hr": 5, "tiny-b": 4, "tiny-a": 3, "bicubic": 2, "nearest": 1}
EXAMPLE_TITLE = (
    "Example report: scripted raters of tests/test_mos_browser.py on random tiny models "
    "(not human ratings)"
)


def scripted_score(rater: int, image: int, method: str) -> int:
    """The scripted raters' score: fixed per method, one lower for the models and bicubic on a
    third of the (rater, image) pairs, so the MOS are not whole numbers."""
    base = BASE_SCORES[method]
    if method not in ("hr", "nearest") and (image + rater) % 3 == 0:
        return base - 1
    return base


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StudyServer:
    """``mos.py serve`` in its own process."""

    def __init__(self, study: Path, port: int, log: Path):
        self.study, self.port, self.log = study, port, log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        command = [sys.executable, str(REPO / "mos.py"), "serve", str(self.study)]
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                command + ["--port", str(self.port)], cwd=REPO, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server stopped: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"the server did not answer in 60 s: {self.log.read_text()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def post(self, path: str, data: dict) -> dict:
        request = urllib.request.Request(
            self.url + path.lstrip("/"),
            data=json.dumps(data).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)


class Page:
    """The rating page in Chromium, read through the body's data-* attributes."""

    def __init__(self, driver):
        self.driver = driver

    def data(self) -> dict:
        return self.driver.execute_script("return Object.assign({}, document.body.dataset)")

    def wait(self, condition, what: str, timeout: float = 30):
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(
                lambda _: condition(self.data())
            )
        except TimeoutException:
            pytest.fail(f"waited {timeout} s for {what}; the page: {self.data()}")
        return self.data()

    def wait_ready(self, mode: str) -> dict:
        return self.wait(lambda d: d.get("mode") == mode and d.get("ready") == "1", f"{mode}")

    def press(self, key: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.driver).send_keys(key).perform()

    def text(self, element_id: str) -> str:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.ID, element_id).text

    def sign_in(self, rater: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        self.wait(lambda d: d.get("mode") == "signin", "the sign-in form")
        field = self.driver.find_element(By.ID, "rater")
        field.clear()
        field.send_keys(rater + Keys.ENTER)

    def calibrate(self, expected_steps: int) -> list[int]:
        """Go through the calibration, pressing each image's intended score; a wrong key first
        must be ignored."""
        scores = []
        for step in range(expected_steps):
            data = self.wait_ready("calibration")
            assert self.text("prompt").startswith(f"Calibration {step + 1} of {expected_steps}")
            if step == 0:
                self.press("3")  # not the intended score: nothing happens
                time.sleep(0.2)
                assert self.data()["item"] == data["item"]
            scores.append(int(data["expected"]))
            self.press(data["expected"])
        return scores

    def native_size(self) -> tuple[int, int, float, float]:
        return tuple(
            self.driver.execute_script(
                "const i = document.getElementById('image'); const r = i.getBoundingClientRect();"
                "return [i.naturalWidth, i.naturalHeight, r.width, r.height];"
            )
        )


def rate(page: Page, study, rater: str, number: int, count: int, entered: list, click=False):
    """Rate ``count`` images as scripted rater ``number``, checking the order and progress."""
    from selenium.webdriver.common.by import By

    order = study.order_for(rater)
    images = study.images
    for _ in range(count):
        data = page.wait_ready("rating")
        rated = int(data["rated"])
        assert data["item"] == order[rated], "the page shows the rater's own order"
        assert page.text("count") == f"image {rated + 1} of {len(order)}"
        item = study.by_id[data["item"]]
        score = scripted_score(number, images.index(item.image), item.method)
        if click:
            page.driver.find_element(By.CSS_SELECTOR, f'button[data-score="{score}"]').click()
        else:
            page.press(str(score))
        page.wait(lambda d, r=rated: int(d["rated"]) == r + 1, f"rating {rated + 1} stored")
        entered.append((rater, item.image, item.method, score))


def stored_ratings(study) -> list[tuple]:
    with sqlite3.connect(study.database) as db:
        return db.execute("SELECT rater, item, score FROM ratings ORDER BY rated_at").fetchall()


def test_rating_in_a_browser_resumes_survives_a_kill_and_reports(mos_study, tmp_path):
    study = load_study(mos_study)
    total = len(study.items)
    assert total == 15 and len(study.calibration) == 4
    server = StudyServer(mos_study, free_port(), tmp_path / "server.log")
    server.start()
    driver = browser.start_chromium(tmp_path / "profile")
    page = Page(driver)
    entered: list[tuple] = []
    try:
        driver.get(server.url)
        page.sign_in("scripted-1")
        assert page.calibrate(4) == [5, 1, 5, 1]
        rate(page, study, "scripted-1", 1, 7, entered)
        page.wait_ready("rating")
        width, height, shown_w, shown_h = page.native_size()
        assert (shown_w, shown_h) == (width, height), "one image pixel per screen pixel"

        # reload half-way: the page resumes at image 8, without a second calibration
        driver.refresh()
        data = page.wait_ready("rating")
        assert data["rated"] == "7" and data["item"] == study.order_for("scripted-1")[7]
        assert page.text("count") == f"image 8 of {total}"
        rate(page, study, "scripted-1", 1, 3, entered)

        # kill the server outright: every rating the page saw acknowledged is on disk
        server.kill()
        assert len(stored_ratings(study)) == 10
        page.wait_ready("rating")
        page.press("1")
        page.wait(lambda d: "Not saved" in page.text("message"), "the page to report the failure")
        assert page.wait_ready("rating")["rated"] == "10"
        server.start()
        assert len(stored_ratings(study)) == 10
        driver.refresh()
        data = page.wait_ready("rating")
        assert data["rated"] == "10" and data["item"] == study.order_for("scripted-1")[10]
        rate(page, study, "scripted-1", 1, total - 10, entered)
        page.wait(lambda d: d.get("mode") == "done", "the end of the study")

        # a second rater on the same browser ("not you?"), the first rating by click
        from selenium.webdriver.common.by import By

        driver.find_element(By.ID, "switch").click()
        page.sign_in("scripted-2")
        page.calibrate(4)
        rate(page, study, "scripted-2", 2, 1, entered, click=True)
        rate(page, study, "scripted-2", 2, total - 1, entered)
        page.wait(lambda d: d.get("mode") == "done", "the second rater's end")

        # a third rater through the API, who scores everything 5, is excluded
        answer = server.post("/api/session", {"rater": "careless"})
        server.post("/api/calibrated", {"rater": "careless"})
        while answer["next"] is not None:
            answer = server.post(
                "/api/rating", {"rater": "careless", "item": answer["next"]["id"], "score": 5}
            )
    finally:
        driver.quit()
        server.kill()

    assert len(stored_ratings(study)) == 3 * total
    assert sorted(
        (r, study.by_id[i].image, study.by_id[i].method, s)
        for r, i, s in stored_ratings(study)
        if r != "careless"
    ) == sorted(entered)
    mos = [sys.executable, str(REPO / "mos.py")]
    subprocess.run(
        mos + ["exclude", str(mos_study), "careless", "--reason", "scored every image 5"],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    report = tmp_path / "report"
    result = subprocess.run(
        mos
        + ["report", str(mos_study), "-o", str(report), "--boot", "1000"]
        + ["--title", EXAMPLE_TITLE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((report / "mos.json").read_text())
    assert record["raters"] == ["scripted-1", "scripted-2"] and record["excluded"] == ["careless"]
    assert record["ratings"] == 2 * total and record["excluded_ratings"] == total
    for method in study.methods:
        mine = [score for _, _, m, score in entered if m == method]
        [result_row] = [m for m in record["methods"] if m["name"] == method]
        assert result_row["ratings"] == len(mine) == 6
        assert result_row["mos"] == pytest.approx(sum(mine) / len(mine), abs=1e-12)
        assert result_row["low"] <= result_row["mos"] <= result_row["high"]
    rows = (report / "ratings.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * total
    if os.environ.get("MOS_EXAMPLE_DIR"):
        target = Path(os.environ["MOS_EXAMPLE_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        for name in ("mos.md", "mos.png", "mos.json", "ratings.csv"):
            shutil.copy(report / name, target / name)


def test_the_screenshot_script_captures_the_rating_page(tmp_path):
    from PIL import Image

    from tests.conftest import fake_mos_study

    folder = fake_mos_study(tmp_path / "study")
    output = tmp_path / "shot.png"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "mos_screenshot.py"), str(folder)]
        + ["--output", str(output), "--rated", "2", "--size", "640x480"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with Image.open(output) as shot:
        assert shot.width == 640
    assert not (folder / "ratings.sqlite").exists()  # the script rated a copy
