"""The browser editor, driven in a real headless Chromium (Debian's chromium + chromedriver, which
.ci/run installs): the server starts on 127.0.0.1 on a free port, the test types a target prompt,
moves α, waits for the edited image and checks that it is exactly what the library returns for
the same settings and differs from the original; an empty prompt shows an error in the page and
the page stays usable. It also takes the screenshot shown in the README (written to docs/ui.png with
STYLECLIP_UPDATE_DOCS=1)."""

import base64
import io
import os
import shutil
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import ui_server
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER) and not os.environ.get("CI"),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them; CI never skips this)",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ui_server(tmp_path_factory.mktemp("ui") / "server.log") as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1300",
    ):
        opts.add_argument(flag)
    d = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield d
    d.quit()


def _image_of(driver, elem_id: str, base_url: str):
    """The image an ``gr.Image`` shows, decoded (src is a data URL or a file URL on the server)."""
    imgs = driver.find_elements("css selector", f"#{elem_id} img")
    if not imgs:
        return None
    src = imgs[0].get_attribute("src")
    if src.startswith("data:"):
        raw = base64.b64decode(src.split(",", 1)[1])
    else:
        raw = urllib.request.urlopen(src if src.startswith("http") else base_url + src.lstrip("/")).read()
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))


def _wait(cond, timeout=120, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v is not None and v is not False:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_global_edit_in_the_browser_equals_the_library(server, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    from styleclip_jax.toyworld.bundle import load_world
    from styleclip_jax.ui.app import display_image, session_from_folders, toy_world_defaults

    d = browser
    d.get(server)
    original = _wait(lambda: _image_of(d, "original", server), what="the original image")
    session = session_from_folders()
    src = session.from_seed(0)
    np.testing.assert_array_equal(original, display_image(src.image))

    box = _wait(lambda: d.find_element("css selector", "#target textarea, #target input"), what="target box")
    box.click()
    box.send_keys("a green object")
    box.send_keys(Keys.ENTER)
    first = _wait(lambda: _image_of(d, "edited", server), what="the first edit")
    # move alpha from the toy world's 6: click on the slider's track (a press and a release at 85 % of its width)
    rng = d.find_element("css selector", "#alpha input[type=range]")
    assert float(rng.get_attribute("value")) == 6.0
    t0 = time.perf_counter()
    ActionChains(d).move_to_element_with_offset(rng, int(rng.size["width"] * 0.35), 0).click().perform()
    alpha = float(rng.get_attribute("value"))
    assert alpha > 6.0
    status = d.find_element("id", "status")
    shown = _wait(
        lambda: (
            lambda im: (
                im if im is not None and "α " + f"{alpha:g}" in status.text and not np.array_equal(im, first) else None
            )
        )(_image_of(d, "edited", server)),
        what=f"the edit at α {alpha:g}",
    )
    print(
        f"slider release -> edited image shown: {time.perf_counter() - t0:.2f} s (page round trip); "
        f"library: {status.text}"
    )
    beta = float(d.find_element("css selector", "#beta input[type=range]").get_attribute("value"))
    # the toy world's defaults: the population estimator, the prompt's own layers
    want = session.global_edit(
        src.wplus, [toy_world_defaults(session.gen).edit("object", "a green object", alpha, beta)]
    )
    np.testing.assert_array_equal(shown, display_image(want.image))
    assert np.abs(shown.astype(int) - original.astype(int)).mean() > 5  # it really edits
    read = load_world().reader(np.asarray(want.image).reshape(1, *np.shape(want.image)[-3:]))
    assert int(np.asarray(read["colour"])[0]) == 2  # and the readers see green: the screenshot shows an edit that works
    assert " ms)" in status.text

    shot = REPO / "docs" / "ui.png" if os.environ.get("STYLECLIP_UPDATE_DOCS") else tmp_path / "ui.png"
    d.save_screenshot(str(shot))  # STYLECLIP_UPDATE_DOCS=1 refreshes the README's picture
    assert Image.open(shot).size[0] >= 1000

    # an empty prompt: a message in the page, and the page still edits afterwards
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(Keys.ENTER)
    _wait(lambda: "Cannot edit" in status.text and "empty" in status.text, what="the empty-prompt message")
    assert "Traceback" not in d.page_source
    box.send_keys("a blue object")
    box.send_keys(Keys.ENTER)
    _wait(lambda: "blue" in status.text and " ms)" in status.text, what="an edit after the error")
