import subprocess
import sys
from pathlib import Path

from inference.ml.schema import DEFAULT_LESION_LABELS, load_lesion_labels, load_schema

ROOT = Path(__file__).resolve().parents[3]


def test_default_lesion_labels_match_the_project_csv():
    assert load_lesion_labels(ROOT / "annotations/schemas/lesions.csv") == DEFAULT_LESION_LABELS


def test_schemas_load_with_sides_and_regions():
    hammers = load_schema(ROOT / "annotations/schemas/hammers-n30r95.csv")
    assert hammers.slug == "hammers-n30r95" and len(hammers.labels) == 95
    assert "frontal lobe" in hammers.coarse_regions()
    assert {label.side for label in hammers.labels} == {"left", "right", "midline"}


def test_report_and_metrics_do_not_import_torch_or_django():
    code = (
        "import sys, inference.ml.report, inference.ml.metrics, inference.ml.schema;"
        "bad = [m for m in ('torch', 'monai', 'django', 'sentence_transformers') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == ""


def test_no_django_import_anywhere_in_the_ml_core():
    for path in (ROOT / "inference/ml").rglob("*.py"):
        text = path.read_text()
        assert "import django" not in text and "from django" not in text, path
