"""The learning-curve drawing (frontend/static/frontend/project/curves.js), run with Node."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

CURVES = Path(__file__).resolve().parents[2] / "frontend" / "static" / "frontend" / "project" / "curves.js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


def run_node(script: str) -> object:
    source = f'import * as c from "{CURVES.as_uri()}";\n{script}'
    out = subprocess.run(
        [NODE, "--input-type=module", "-e", source], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout)


def epoch(n, loss, lesion, structure):
    return {
        "epoch": n,
        "train_loss": loss,
        "val_lesion_dice": lesion,
        "val_structure_dice": structure,
        "learning_rate": 1e-3,
        "seconds": 2.5,
    }


def layout(history) -> dict:
    return run_node(
        f"""
        const L = c.layout({json.dumps(history)});
        const out = {{}};
        for (const s of L.series) out[s.key] = {{
          points: s.points.map((p) => [p.epoch, p.x, p.y]),
          segments: s.segments.map((seg) => seg.length),
        }};
        out.best = L.best && L.best.epoch;
        out.svg = c.curvesSVG({json.dumps(history)});
        console.log(JSON.stringify(out));
        """
    )


def test_one_point_per_epoch_and_series_with_loss_falling_down_the_left_axis():
    out = layout([epoch(1, 1.2, 0.2, 0.3), epoch(2, 0.8, 0.4, 0.5), epoch(3, 0.5, 0.6, 0.55)])
    loss = out["train_loss"]["points"]
    assert [p[0] for p in loss] == [1, 2, 3]
    xs, ys = [p[1] for p in loss], [p[2] for p in loss]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert ys == sorted(ys)  # lower loss is drawn lower (larger SVG y)
    dice = [p[2] for p in out["val_lesion_dice"]["points"]]
    assert dice == sorted(dice, reverse=True)  # higher Dice is drawn higher
    assert out["svg"].count('data-series="train_loss"') == 1 + 3  # one line, three points
    assert out["best"] == 3


def test_missing_values_leave_a_gap_instead_of_a_false_point():
    history = [epoch(1, 1.0, None, 0.3), epoch(2, 0.9, 0.4, None), epoch(3, None, 0.5, 0.4), epoch(4, 0.7, 0.6, 0.5)]
    out = layout(history)
    assert [p[0] for p in out["train_loss"]["points"]] == [1, 2, 4]
    assert out["train_loss"]["segments"] == [2, 1]
    assert [p[0] for p in out["val_lesion_dice"]["points"]] == [2, 3, 4]
    assert out["val_structure_dice"]["segments"] == [1, 2]


def test_an_empty_or_single_epoch_history_still_draws():
    empty = layout([])
    assert all(not empty[k]["points"] for k in ("train_loss", "val_lesion_dice", "val_structure_dice"))
    assert "No epoch has finished yet." in empty["svg"]
    single = layout([epoch(1, 0.9, None, None)])
    assert len(single["train_loss"]["points"]) == 1
    assert "NaN" not in single["svg"] and "Infinity" not in single["svg"]


def test_a_resumed_epoch_replaces_the_earlier_record():
    out = layout([epoch(1, 1.0, 0.1, 0.1), epoch(2, 0.9, 0.2, 0.2), epoch(2, 0.8, 0.3, 0.3)])
    assert [p[0] for p in out["train_loss"]["points"]] == [1, 2]


def test_tick_values_are_round():
    ticks = run_node("console.log(JSON.stringify([c.niceTicks(0, 1.37), c.niceTicks(0, 0.042)]))")
    assert ticks[0] == [0, 0.5, 1, 1.5]
    assert ticks[1][0] == 0 and ticks[1][-1] >= 0.042
