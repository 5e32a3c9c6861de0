"""`vaelab explore` in a real browser: headless Chromium driven through Selenium (Debian's
chromium and chromium-driver; .ci/run installs them). Skips cleanly without them.

The page is served by the real server on a free local port; the test moves a slider and sees the
image change, draws a digit on the canvas and sees its reconstruction and log p(x), scrubs and
pushes the pendulum, and checks the browser logged no errors. Screenshots are kept as artifacts
($VAELAB_ARTIFACTS, else the test's temporary folder).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")
webdriver = pytest.importorskip("selenium.webdriver")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from vaelab.cli.explore_commands import make_app  # noqa: E402

pytestmark = pytest.mark.slow  # a real browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _driver() -> Any:
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    driver_path = shutil.which("chromedriver")
    if browser is None or driver_path is None:
        pytest.skip("headless Chromium and chromedriver are not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1800",
                 "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)


@pytest.fixture
def browser() -> Iterator[Any]:
    driver = _driver()
    try:
        yield driver
    finally:
        driver.quit()


def _serve(run: Path) -> tuple[str, Any]:
    server = make_server("127.0.0.1", 0, make_app(run), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/", server


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("VAELAB_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_the_image_page_in_a_browser(browser: Any, image_run: Path, tmp_path: Path) -> None:
    url, server = _serve(image_run)
    try:
        browser.get(url)
        wait = WebDriverWait(browser, 30)
        decoded = browser.find_element(By.ID, "decoded")
        wait.until(lambda d: (decoded.get_attribute("src") or "").startswith("data:"))
        before = browser.find_element(By.ID, "decoded").get_attribute("src")
        slider = browser.find_element(By.CSS_SELECTOR, "#sliders input")
        ActionChains(browser).click_and_hold(slider).move_by_offset(100, 0).release().perform()
        wait.until(lambda d: d.find_element(By.ID, "decoded").get_attribute("src") != before)

        canvas = browser.find_element(By.ID, "canvas")
        ActionChains(browser).move_to_element_with_offset(canvas, 0, -90).click_and_hold() \
            .move_by_offset(10, 60).move_by_offset(5, 60).release().perform()
        browser.find_element(By.ID, "k").clear()
        browser.find_element(By.ID, "k").send_keys("30")
        browser.find_element(By.ID, "score-button").click()
        wait.until(lambda d: d.find_element(By.ID, "logpx").text not in ("", "–"))
        assert browser.find_element(By.ID, "reconstruction").get_attribute("src").startswith("data:image/png")
        assert float(browser.find_element(By.ID, "logpx").text) < 0
        assert browser.find_element(By.ID, "k-used").text == "30"
        assert browser.find_element(By.ID, "error").text == ""

        browser.find_element(By.ID, "clear-button").click()  # a blank canvas: a message, not a crash
        browser.find_element(By.ID, "score-button").click()
        wait.until(lambda d: "blank" in d.find_element(By.ID, "error").text)
        browser.save_screenshot(str(_artifacts(tmp_path) / "explore-image.png"))
        severe = [e for e in _errors(browser) if "400" not in e]  # the refused blank image is a 400
        assert severe == []
    finally:
        server.shutdown()


def test_the_pendulum_page_in_a_browser(browser: Any, sequence_run: Path, tmp_path: Path) -> None:
    url, server = _serve(sequence_run)
    try:
        browser.get(url)
        wait = WebDriverWait(browser, 30)
        wait.until(lambda d: (d.find_element(By.ID, "frame").get_attribute("src") or "").startswith("data:"))
        assert "learned g/L" in browser.find_element(By.ID, "constants").text
        first = browser.find_element(By.ID, "frame").get_attribute("src")
        slider = browser.find_element(By.ID, "frame-slider")
        ActionChains(browser).click_and_hold(slider).move_by_offset(40, 0).release().perform()
        wait.until(lambda d: d.find_element(By.ID, "frame").get_attribute("src") != first)
        assert "filtered θ" in browser.find_element(By.ID, "state").text
        browser.find_element(By.ID, "intervene-button").click()
        wait.until(lambda d: d.find_element(By.ID, "vpt").text not in ("", "–"))
        assert browser.find_element(By.ID, "rollout-model").get_attribute("src").startswith("data:image/png")
        assert browser.find_element(By.ID, "rollout-sim").get_attribute("src").startswith("data:image/png")
        browser.save_screenshot(str(_artifacts(tmp_path) / "explore-pendulum.png"))
        assert _errors(browser) == []
    finally:
        server.shutdown()
