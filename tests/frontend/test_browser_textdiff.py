"""The word diff the report editor shows beside an edited sentence (textdiff.js, run with Node)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

TEXTDIFF = Path(__file__).resolve().parents[2] / "frontend" / "static" / "frontend" / "case" / "textdiff.js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


def diff_html(before: str, after: str) -> str:
    source = (
        f'import {{ diffHTML }} from "{TEXTDIFF.as_uri()}";\n'
        f"console.log(JSON.stringify(diffHTML({json.dumps(before)}, {json.dumps(after)})));"
    )
    out = subprocess.run([NODE, "--input-type=module", "-e", source], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_a_changed_word_is_struck_and_the_new_one_marked():
    assert diff_html("There is extensive edema.", "There is moderate edema.") == (
        "There is <del>extensive</del><ins>moderate</ins> edema."
    )


def test_text_is_escaped():
    assert diff_html("a <b>", "a <i>") == "a <del>&lt;b&gt;</del><ins>&lt;i&gt;</ins>"
