"""The demo page in a real headless Chromium (Debian's chromium + chromium-driver, driven by selenium).

Opens the page, uploads a clip, paints a stroke on frame 0, propagates, reads the result back (from
the page and the API) and checks it equals tools/infer_video.py given the mask the page painted.
Skipped only when chromium is absent outside CI; in CI (CI=true) a missing browser is a failure.
Set HODOR_DEMO_SCREENSHOTS=folder to keep screenshots of the page.
"""

import os
import shutil
import socket
import threading
import time

import numpy as np
import pytest

from tests.demo.conftest import H, W, infer_video_masks, read_zip_masks, save_png, synthetic_video, write_mp4

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
IN_CI = os.environ.get("CI") == "true"

if not (CHROMIUM and CHROMEDRIVER):
    if IN_CI:
        pytest.fail("CI=true but chromium/chromedriver are missing: .ci/run should apt-get install them", pytrace=False)
    pytest.skip(
        "chromium + chromium-driver not installed (apt-get install chromium chromium-driver)", allow_module_level=True
    )
if IN_CI:
    import selenium  # noqa: F401
    import uvicorn  # noqa: F401
else:
    pytest.importorskip("selenium", reason="selenium not installed (pip install -e '.[demo-test]')")
    pytest.importorskip("uvicorn", reason="uvicorn not installed (pip install -e '.[demo]')")

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from hodor.demo.app import create_app  # noqa: E402

pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(engine):
    app = create_app(engine)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    t0 = time.time()
    while not srv.started:
        assert time.time() - t0 < 30, "uvicorn did not start"
        time.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture()
def browser(tmp_path):
    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium-manager look for drivers online
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1280,900", f"--user-data-dir={tmp_path / 'chrome-profile'}",
    ):  # fmt: skip
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _shot(driver, tmp_path, name):
    folder = os.environ.get("HODOR_DEMO_SCREENSHOTS") or str(tmp_path)
    os.makedirs(folder, exist_ok=True)
    driver.save_screenshot(os.path.join(folder, f"demo_{name}.png"))


def _frame_to_screen(view, x, y):
    """Offset from the canvas centre (selenium 4 convention) of frame pixel (x, y)."""
    w, h = view.size["width"], view.size["height"]
    return x * w / W - w / 2, y * h / H - h / 2


def test_page_upload_paint_propagate(server, browser, tmp_path, tiny_weights):
    app, url = server
    wait = WebDriverWait(browser, 60)
    browser.get(url)
    assert browser.find_element(By.ID, "model-banner").get_attribute("hidden")  # a model is loaded

    # a corrupt upload shows a clear message and the server keeps running
    (tmp_path / "broken.mp4").write_bytes(b"not a video" * 50)
    browser.find_element(By.ID, "video-file").send_keys(str(tmp_path / "broken.mp4"))
    wait.until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "broken.mp4" in browser.find_element(By.ID, "error").text
    assert "cannot read" in browser.find_element(By.ID, "error").text

    video = write_mp4(tmp_path / "clip.mp4", synthetic_video(6, H, W))
    browser.find_element(By.ID, "video-file").send_keys(str(video))
    wait.until(lambda d: "6 frames" in d.find_element(By.ID, "clip-info").text)
    view = browser.find_element(By.ID, "view")
    wait.until(lambda d: view.get_attribute("data-frame") == "0")

    # paint a stroke with object 1 across the red box of frame 0 (rows 8..28, columns 10..34)
    x0, y0 = _frame_to_screen(view, 15, 18)
    x1, y1 = _frame_to_screen(view, 29, 18)

    def stroke():
        ActionChains(browser).move_to_element_with_offset(view, x0, y0).click_and_hold().move_by_offset(
            (x1 - x0) / 2, 0
        ).move_by_offset((x1 - x0) / 2, 0).release().perform()
        wait.until(lambda d: d.find_element(By.ID, "annotated-list").text == "0")

    stroke()
    # Ctrl+Z undoes it (the frame had no given mask), then paint again
    ActionChains(browser).key_down(Keys.CONTROL).send_keys("z").key_up(Keys.CONTROL).perform()
    wait.until(lambda d: d.find_element(By.ID, "annotated-list").text == "none")
    wait.until(lambda d: view.get_attribute("data-source") == "empty")
    stroke()
    assert view.get_attribute("data-source") == "annotated"
    session = app.state.store.get(browser.execute_script("return S.session"))
    painted = session.annotations[0]
    assert set(np.unique(painted)) == {0, 1}
    ys, xs = np.nonzero(painted)
    assert 12 <= ys.mean() <= 24 and 16 <= xs.mean() <= 28, (ys.mean(), xs.mean())
    assert painted[18, 22] == 1 and painted[50, 80] == 0
    _shot(browser, tmp_path, "painted")

    browser.find_element(By.ID, "propagate").click()
    wait.until(lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "done")
    wait.until(lambda d: view.get_attribute("data-frame") == "5" and view.get_attribute("data-source") == "predicted")
    _shot(browser, tmp_path, "propagated")

    # read the result back: the page's pixel counts, and the API's zip against infer_video
    counts = browser.find_element(By.ID, "pixel-counts").get_attribute("data-counts")
    got = read_zip_masks(httpx.get(f"{url}/api/sessions/{session.id}/masks.zip").content)
    ref = infer_video_masks(tmp_path, video, [(0, save_png(tmp_path / "painted.png", painted))], tiny_weights)
    for name in ref:
        np.testing.assert_array_equal(got[name][1], ref[name], err_msg=name)
    assert counts == ("{}" if not (ref["00005.png"] == 1).any() else f'{{"1":{int((ref["00005.png"] == 1).sum())}}}')

    # keyboard: previous frame
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_LEFT)
    wait.until(lambda d: view.get_attribute("data-frame") == "4")
