"""A real headless Chromium (Debian's, with software WebGL) driving the live server.

One browser per test module; one browser context per user, logged in through a session cookie
(the login form itself is exercised once, in test_paint_and_save). Cases are small (48×56×40) so
NiiVue loads them in a blink, but real: NIfTI volumes, masks and a model-written report.
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from bench.stack import CHROMIUM, CHROMIUM_ARGS

# Playwright's sync API runs an event loop in the main thread; the test body's ORM calls are
# still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SHAPE = (48, 56, 40)
VIEWPORT = {"width": 1440, "height": 900}


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def wait_until(page, script: str, timeout: float = 30.0, message: str = "") -> object:
    """Poll a JS function in the page (the page's CSP forbids eval, so no wait_for_function)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message or script}")
        time.sleep(0.05)


def wait_ready(page) -> None:
    wait_until(page, "() => !!(window.brainscribe && window.brainscribe.timings.ready)", 60, "the case page")


@pytest.fixture
def until() -> Callable[..., object]:
    return wait_until


@pytest.fixture
def ready() -> Callable[..., None]:
    return wait_ready


@pytest.fixture
def open_page(browser, live_server) -> Iterator[Callable[..., object]]:
    """``open_page(user, path)`` → a Playwright page logged in as ``user`` with errors collected."""
    from django.test import Client

    contexts = []

    def open_(user, path: str = "/"):
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport=VIEWPORT)
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))

        # HTTP error statuses are asserted by the tests themselves (a 409 is the point of some).
        def console(message) -> None:
            if message.type == "error" and not message.text.startswith("Failed to load resource"):
                page.errors.append(message.text)

        page.on("console", console)
        page.goto(live_server.url + path)
        return page

    yield open_
    for context in contexts:
        context.close()


def _label_volume(shape: tuple[int, int, int], blobs: list[tuple[tuple[int, int, int], int, int]]) -> np.ndarray:
    grid = np.indices(shape)
    out = np.zeros(shape, np.uint8)
    for centre, radius, label in blobs:
        r2 = sum((grid[i] - centre[i]) ** 2 for i in range(3))
        out[r2 <= radius**2] = label
    return out


def _structures(shape: tuple[int, int, int]) -> np.ndarray:
    """Left/right halves of a box as frontal (1, 2) and parietal (3, 4) lobes, with a 'thalamus' (23)."""
    out = np.zeros(shape, np.uint8)
    nx, ny, nz = shape
    out[6 : nx - 6, 6 : ny - 6, 5 : nz - 5] = 1
    out[nx // 2 : nx - 6, 6 : ny - 6, 5 : nz - 5] = 2
    out[6 : nx // 2, 6 : ny // 2, 5 : nz - 5] = 3
    out[nx // 2 : nx - 6, 6 : ny // 2, 5 : nz - 5] = 4
    out[nx // 2 - 4 : nx // 2 + 4, ny // 2 - 4 : ny // 2 + 4, nz // 2 - 3 : nz // 2 + 3] = 23
    return out


def nifti(data: np.ndarray, affine: np.ndarray) -> bytes:
    return gzip.compress(nib.Nifti1Image(data, affine).to_bytes(), mtime=0)


MODEL_SENTENCES = [
    {
        "text": "There is a round mass in the left frontal lobe, about 10 mm in size.",
        "kind": "lesion",
        "region_label_ids": [1],
        "lesion_component": 1,
    },
    {
        "text": "The surrounding brain parenchyma shows mild edema.",
        "kind": "lesion",
        "region_label_ids": [1],
        "lesion_component": 1,
    },
    {"text": "The parietal lobes show normal signal.", "kind": "normal", "region_label_ids": [3, 4]},
    {"text": "There is no midline shift.", "kind": "global", "region_label_ids": [23]},
]


@pytest.fixture
def e2e_case(transactional_db, members, project, nifti_bytes) -> Callable[..., object]:
    """A two-modality case with model masks and a model report, on a grid of the given orientation."""
    from annotations.services.cases import case_create
    from annotations.services.reports import report_save

    def make(orientation: str = "LAS", external_id: str = "e2e-1", status: str | None = None) -> object:
        volumes = {m: nifti_bytes(shape=SHAPE, orientation=orientation) for m in ("T1", "FLAIR")}
        affine = nib.Nifti1Image.from_bytes(gzip.decompress(volumes["T1"])).affine
        lesion = _label_volume(SHAPE, [((14, 30, 20), 5, 2), ((14, 30, 20), 2, 1)])
        case = case_create(
            project=project,
            external_id=external_id,
            volumes=volumes,
            masks={"lesion": nifti(lesion, affine), "structure": nifti(_structures(SHAPE), affine)},
            user=members["admin"],
        ).case
        report_save(case=case, sentences=MODEL_SENTENCES, expected_version=0, user=None, source="model")
        if status:
            type(case).objects.filter(pk=case.pk).update(status=status)
            case.refresh_from_db()
        return case

    return make
