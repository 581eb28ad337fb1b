"""PUT of a 182×218×182 uint8 lesion mask (.nii.gz): server time per save, beside nibabel alone.

    .venv/bin/python bench/bench_mask_put.py [--saves 40] [--database-url postgres://…]

Server time is measured around the request inside the process (Django test client: routing,
authentication, validation, diff, canonical encoding, fsync'd write, version row), so it excludes
network transfer. The nibabel column is what loading and saving the same file costs with nibabel
alone; the ratio says how much the platform adds on top of the I/O any client must do anyway.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import boot, percentile, table

SHAPE = (182, 218, 182)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=40)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    boot(args.database_url)

    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.test import APIClient

    from annotations.services.cases import case_create
    from annotations.services.projects import project_create

    user = get_user_model().objects.create_user("bench", password="x", is_staff=True)
    project = project_create(name="bench", label_schema="demo-aal3", user=user)
    affine = np.diag([-1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = [90, -126, -72]
    t1 = np.zeros(SHAPE, np.int16)
    t1[20:160, 20:200, 20:160] = 500
    t1_bytes = gzip.compress(nib.Nifti1Image(t1, affine).to_bytes(), compresslevel=1)
    case = case_create(project=project, external_id="bench", volumes={"T1": t1_bytes}).case
    client = APIClient()
    client.force_authenticate(user)

    rng = np.random.default_rng(0)
    mask = np.zeros(SHAPE, np.uint8)
    mask[60:110, 80:140, 60:100] = 2  # an oedema region, as a model draft would have
    server_ms, nibabel_ms, sizes = [], [], []
    version = 0
    for _ in range(args.saves):
        # One brush stroke: a small ball of a random label near the lesion.
        c = rng.integers([60, 80, 60], [110, 140, 100])
        r = 4
        mask[c[0] - r : c[0] + r, c[1] - r : c[1] + r, c[2] - r : c[2] + r] = rng.integers(1, 4)
        body = gzip.compress(nib.Nifti1Image(mask, affine).to_bytes(), compresslevel=1)
        sizes.append(len(body))
        started = time.perf_counter()
        response = client.put(
            f"/api/cases/{case.pk}/masks/lesion",
            data=body,
            content_type="application/gzip",
            HTTP_IF_MATCH=f'"{version}"',
        )
        server_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (response.status_code, response.content[:300])
        version = response.json()["version"]

        started = time.perf_counter()
        img = nib.Nifti1Image.from_bytes(gzip.decompress(body))
        data = np.asarray(img.dataobj)
        out = io.BytesIO()
        out.write(gzip.compress(nib.Nifti1Image(data, img.affine).to_bytes(), compresslevel=1))
        nibabel_ms.append((time.perf_counter() - started) * 1000)

    p50_server, p50_nib = percentile(server_ms, 50), percentile(nibabel_ms, 50)
    print(
        f"PUT /api/cases/{{id}}/masks/lesion — {SHAPE[0]}×{SHAPE[1]}×{SHAPE[2]} uint8, "
        f"{np.mean(sizes) / 1024:.0f} KiB .nii.gz, {args.saves} saves, {connection.vendor}"
    )
    print(
        table(
            ["measure", "p50 ms", "p95 ms", "max ms"],
            [
                [
                    "server time per save",
                    f"{p50_server:.1f}",
                    f"{percentile(server_ms, 95):.1f}",
                    f"{max(server_ms):.1f}",
                ],
                [
                    "nibabel load + save alone",
                    f"{p50_nib:.1f}",
                    f"{percentile(nibabel_ms, 95):.1f}",
                    f"{max(nibabel_ms):.1f}",
                ],
                ["ratio server / nibabel", f"{p50_server / p50_nib:.2f}", "", ""],
            ],
        )
    )
    print(f"target: server p50 ≤ 80 ms → {'met' if p50_server <= 80 else 'NOT met'}")


if __name__ == "__main__":
    main()
