"""Open a four-modality 1 mm case in a real browser: time to the first rendered frame, and bytes.

    .venv/bin/python bench/bench_browser.py [--runs 3] [--case-dir DIR] [--screenshot docs/case-page.png]

A synthetic glioma case (T1, T1CE, T2, FLAIR at 1 mm, 181×217×181 or so, with model masks and a
model report) is generated on the real MNI152 anatomy, stored through the platform's services and
served by Django's threaded live server on localhost. Debian's Chromium runs headless with
software WebGL (SwiftShader), so the times are CPU-bound and pessimistic against a workstation GPU.

For each run a fresh browser context (empty cache) opens the case page, then opens it again in the
same context (a revisit). "First frame" is the page's own mark when NiiVue has drawn the reference
volume, counted from navigation start; bytes come from the page's Resource Timing entries (bodies
as sent; a response served from the browser cache counts 0).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import boot, percentile, table
from bench.stack import CHROMIUM, CHROMIUM_ARGS

MODALITIES = ("T1", "T1CE", "T2", "FLAIR")
RESOURCES_JS = """() => performance.getEntriesByType('resource').map((r) => ({
  url: new URL(r.name).pathname, transfer: r.transferSize, body: r.encodedBodySize, end: r.responseEnd}))"""


def make_case_dir(out: Path, seed: int) -> Path:
    """One synthetic glioma with exactly the four structural modalities (replayable from the seed)."""
    from annotations.demo.dataset import generate_case
    from annotations.demo.generate import sample_case_params

    index = next(i for i in range(200) if sample_case_params(seed, i, "glioma")["modalities"] == list(MODALITIES))
    record = generate_case(seed, index, "glioma", "RAS", out / "cases")
    return out / "cases" / record["case_id"]


def store_case(case_dir: Path):
    from django.contrib.auth import get_user_model

    from annotations.services.cases import case_create
    from annotations.services.masks import mask_save
    from annotations.services.projects import project_create
    from annotations.services.reports import report_save

    admin = get_user_model().objects.create_user("bench-admin", password="x", is_staff=True)
    project = project_create(name="Browser benchmark (synthetic)", label_schema="demo-aal3", user=admin)
    case = case_create(
        project=project,
        external_id=case_dir.name,
        volumes={m: (case_dir / f"{m}.nii.gz").read_bytes() for m in MODALITIES},
        user=admin,
    ).case
    for kind in ("lesion", "structure"):  # the masks as a model would have proposed them
        data = (case_dir / f"{kind}.nii.gz").read_bytes()
        mask_save(case=case, kind=kind, data=data, expected_version=0, user=None, source="model")
    sentences = json.loads((case_dir / "report.json").read_text())
    report_save(case=case, sentences=sentences, expected_version=0, user=None, source="model", comment="model draft")
    return case, admin


def stored_bytes(case) -> tuple[int, int]:
    from annotations.models import MaskVersion

    volumes = sum(v.size_bytes for v in case.volumes.all())
    masks = sum(m.size_bytes for m in MaskVersion.objects.filter(case=case))
    return volumes, masks


def start_server():
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    server = LiveServerThread("127.0.0.1", StaticFilesHandler, connections_override={}, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    return server


def wait_for(page, script: str, timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(script)
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError(script)


def visit(page, url: str) -> dict:
    page.goto(url)
    wait_for(page, "() => window.brainscribe && window.brainscribe.timings.allModalities")
    timings = page.evaluate("() => window.brainscribe.timings")
    marks = page.evaluate("() => window.brainscribe.viewer.marks")
    resources = page.evaluate(RESOURCES_JS)
    volumes = [r for r in resources if "/volumes/" in r["url"]]
    masks = [r for r in resources if "/masks/" in r["url"] and "/versions/" not in r["url"]]
    static = [r for r in resources if r["url"].startswith("/static/")]

    def received(entries: list[dict]) -> int:
        # Bodies that came over the wire: a cache hit transfers 0 bytes, a 304 revalidation only headers.
        return sum(r["body"] for r in entries if r["transfer"] > r["body"])

    return {
        "first_frame": timings["firstFrame"],
        "parsed": marks["volumeParsed"],
        "webgl": marks["attached"],
        "ready": timings["ready"],
        "all": timings["allModalities"],
        "volume_bytes": received(volumes),
        "mask_bytes": received(masks),
        "static_bytes": received(static),
        "wire_bytes": sum(r["transfer"] for r in resources),
        "volume_requests": len(volumes),
    }


def screenshot(page, url: str, path: Path) -> None:
    page.set_viewport_size({"width": 1600, "height": 900})
    page.goto(url)
    wait_for(page, "() => window.brainscribe && window.brainscribe.timings.allModalities")
    page.click("[data-modality=FLAIR]")
    wait_for(page, "() => window.brainscribe.viewer.background === 'FLAIR'")
    # A clinician's pass over the draft: one sentence reworded, one accepted, saved as version 2.
    edema = page.locator(".sentence", has_text="edema").nth(0)
    edema.locator("[data-action=edit]").click()
    text = edema.locator("textarea.edit-text").input_value()
    edema.locator("textarea.edit-text").fill(text.replace("extensive", "moderate").replace("mild", "moderate"))
    edema.locator("textarea.edit-text").press("Enter")
    page.locator(".sentence [data-action=accept]").first.click()
    page.click("#save-report")
    wait_for(page, "() => document.querySelector('#report-state').textContent === 'version 2, saved'")
    page.locator(".sentence .text").first.click()  # the first lesion sentence: crosshair into the lesion
    page.keyboard.press("Escape")  # ...then show every structure again
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    box = page.locator("#gl").bounding_box()
    vox = page.evaluate("() => window.brainscribe.viewer.crosshairVoxel()")
    # ...and a correction of the lesion mask: a stroke of edema with a 3-voxel pen, saved.
    for key in ("p", "2", "]", "]"):
        page.keyboard.press(key)
    # ...in the brain just in front of the lesion, where the model marked nothing.
    y = page.evaluate(
        """([x, y, z]) => {
          const v = window.brainscribe.viewer;
          const [nx, ny] = v.dims, lesion = v.labelsRAS("lesion"), structure = v.labelsRAS("structure");
          const free = (yy) => [-4, 0, 4].every((dx) => {
            const i = x + dx + yy * nx + z * nx * ny;
            return lesion[i] === 0 && structure[i] > 0;
          });
          for (let yy = y; yy < ny; yy++) if (free(yy) && free(yy + 3)) return yy + 3;
          return y;
        }""",
        vox,
    )
    to_canvas = "(v) => window.brainscribe.viewer.voxelToCanvas(v, 0)"
    stroke = [page.evaluate(to_canvas, [vox[0] - 4 + i, y, vox[2]]) for i in range(0, 9, 2)]
    page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
    page.mouse.down()
    for x, y in stroke[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=3)
    page.mouse.up()
    page.click("#save-mask")
    wait_for(page, "() => document.querySelector('#mask-state').textContent.startsWith('version 2')")
    page.keyboard.press("n")
    page.locator(".sentence .text").first.click()  # back into the lesion
    page.keyboard.press("Escape")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    at = page.evaluate(f"() => window.brainscribe.viewer.voxelToCanvas([{vox[0] + 18}, {vox[1] - 10}, {vox[2]}], 0)")
    page.mouse.move(box["x"] + at[0], box["y"] + at[1])  # hover: the structure's name next to the pointer
    page.wait_for_timeout(500)
    page.evaluate("() => document.getElementById('toasts')?.remove()")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--case-dir", type=Path, help="a generated case folder to reuse (else one is generated)")
    parser.add_argument("--chromium", default=CHROMIUM)
    parser.add_argument("--screenshot", type=Path, help="also save a screenshot of the case page here")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    boot(args.database_url)

    from django.test import Client
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        case_dir = args.case_dir or make_case_dir(Path(tmp), args.seed)
        case, admin = store_case(case_dir)
        shape = "×".join(str(n) for n in case.shape)
    stored_volumes, stored_masks = stored_bytes(case)
    server = start_server()
    base = f"http://127.0.0.1:{server.port}"
    client = Client()
    client.force_login(admin)
    session = client.cookies["sessionid"].value
    url = f"{base}/cases/{case.pk}/"

    cold, warm = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
        for _ in range(args.runs):
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
            page = context.new_page()
            cold.append(visit(page, url))
            page.goto("about:blank")
            warm.append(visit(page, url))
            context.close()
        if args.screenshot:
            context = browser.new_context()
            context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
            screenshot(context.new_page(), url, args.screenshot)
            context.close()
        browser.close()
    server.terminate()

    def row(name: str, runs: list[dict]) -> list[object]:
        ff = [r["first_frame"] for r in runs]
        return [
            name,
            f"{percentile([r['parsed'] for r in runs], 50):.0f}",
            f"{percentile([r['webgl'] for r in runs], 50):.0f}",
            f"{percentile(ff, 50):.0f}",
            f"{max(ff):.0f}",
            f"{percentile([r['ready'] for r in runs], 50):.0f}",
            f"{percentile([r['all'] for r in runs], 50):.0f}",
            f"{max(r['volume_bytes'] for r in runs) / 1e6:.2f}",
            f"{max(r['mask_bytes'] for r in runs) / 1e6:.2f}",
            f"{max(r['static_bytes'] for r in runs) / 1e6:.2f}",
            f"{max(r['wire_bytes'] for r in runs) / 1e6:.2f}",
        ]

    print(
        f"Case page, {len(MODALITIES)} modalities at 1 mm ({shape}), {args.runs} runs, Chromium headless "
        f"(SwiftShader), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        table(
            [
                "visit",
                "volume parsed ms",
                "WebGL ready ms",
                "first frame ms (p50)",
                "max",
                "masks+report ms",
                "all modalities ms",
                "volume MB",
                "mask MB",
                "static MB",
                "all on the wire MB",
            ],
            [row("first visit (empty cache)", cold), row("revisit (same browser)", warm)],
        )
    )
    print(
        f"stored files: volumes {stored_volumes / 1e6:.2f} MB, masks {stored_masks / 1e6:.2f} MB; "
        f"first visit fetched each volume {max(r['volume_requests'] for r in cold) / len(MODALITIES):.0f}× "
        f"({'within' if max(r['volume_bytes'] for r in cold) <= stored_volumes else 'MORE than'} the stored bytes); "
        f"revisit volume bytes: {max(r['volume_bytes'] for r in warm)}"
    )
    if args.screenshot:
        print(f"screenshot: {args.screenshot}")


if __name__ == "__main__":
    main()
