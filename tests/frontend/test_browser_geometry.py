"""The browser's voxel bookkeeping (frontend/static/frontend/case/geometry.js), run with Node.

RAS re-ordering must be NiiVue's own, and lesion components must be numbered as the server's
report generator numbers them (largest first), or a sentence would point at the wrong lesion.
"""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

GEOMETRY = Path(__file__).resolve().parents[2] / "frontend" / "static" / "frontend" / "case" / "geometry.js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


def run_node(script: str) -> object:
    source = f'import * as g from "{GEOMETRY.as_uri()}";\n{script}'
    out = subprocess.run(
        [NODE, "--input-type=module", "-e", source], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout)


def test_ras_reordering_round_trips_and_matches_a_flip():
    # An LAS image (permRAS [-1, 2, 3]) of 4×3×2: RAS x is the stored x mirrored.
    result = run_node(
        """
        const img = { permRAS: [-1, 2, 3], hdr: { dims: [3, 4, 3, 2] } };
        const native = Uint8Array.from({ length: 24 }, (_, i) => i);
        const ras = g.toRAS(img, native);
        console.log(JSON.stringify({ ras: Array.from(ras), back: Array.from(g.toNative(img, ras)) }));
        """
    )
    native = np.arange(24).reshape((2, 3, 4))  # z, y, x with x fastest, as NIfTI stores it
    assert result["ras"] == native[:, :, ::-1].ravel().tolist()
    assert result["back"] == list(range(24))


def test_lesion_components_are_numbered_like_the_server():
    from inference.ml.postprocess import lesion_components

    shape = (20, 16, 12)  # x, y, z
    lesion = np.zeros(shape, np.uint8)
    lesion[2:5, 2:5, 2:5] = 2  # 27 voxels
    lesion[10:16, 8:14, 3:8] = 1  # 180 voxels, the largest
    lesion[12, 2, 9] = 3  # a single voxel
    lesion[15, 2, 9] = 5
    lesion[16, 3, 10] = 5  # diagonal neighbour: one component of two under 26-connectivity
    flat = lesion.ravel(order="F").tolist()  # x fastest, as the browser's RAS grid
    result = run_node(
        f"""
        const labels = Uint8Array.from({json.dumps(flat)});
        console.log(JSON.stringify(g.lesionComponents(labels, {json.dumps(list(shape))})));
        """
    )
    components, count = lesion_components(lesion)
    assert len(result) == count == 4
    for found in result:
        x, y, z = found["voxel"]
        assert components[x, y, z] == found["component"]
        assert found["size"] == int((components == found["component"]).sum())


def test_checksum_tells_one_changed_voxel():
    result = run_node(
        """
        const a = new Uint8Array(1001);
        const b = a.slice(); b[1000] = 1;
        const c = a.slice(); c[3] = 1;
        console.log(JSON.stringify([g.checksum(a), g.checksum(b), g.checksum(c), g.checksum(a.slice())]));
        """
    )
    assert result[0] == result[3]
    assert len(set(result[:3])) == 3
