"""The fault and hostile-input table: runs the tests that inject each fault and prints what they saw.

    .venv/bin/python bench/bench_faults.py [--database-url postgres://…] [-k EXPR]

Each row comes from a test in `tests/` that really does the damage (stops a private Redis or
PostgreSQL, SIGKILLs a worker's child process, fills a 4 MB tmpfs, uploads a malformed file) and
asserts the outcome; the test hands its observed figures to this script through
BRAINSCRIBE_FAULT_REPORT. A failing test is listed as FAILED, so the table cannot show a fault
that was not survived. Needs root for the full-disk test (a tmpfs mount) and PostgreSQL's server
binaries for the restart test; those rows read "skipped" otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._django import table

REPO = Path(__file__).resolve().parent.parent
TESTS = [
    "tests/brainscribe/test_fault_postgres_restart.py",
    "tests/brainscribe/test_faults.py",
    "tests/inference/test_worker_killed.py",
    "tests/inference/test_training_job.py::test_a_worker_killed_mid_training_resumes_and_registers_exactly_one_model",
    "tests/annotations/test_hostile_uploads.py",
    "tests/inference/test_model_registry.py::test_a_pickle_payload_is_refused_and_never_runs",
]


def outcomes(junit: Path) -> dict[str, str]:
    """Test name → passed / FAILED / skipped, from pytest's JUnit XML."""
    result = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        if case.find("failure") is not None or case.find("error") is not None:
            result[name] = "FAILED"
        elif case.find("skipped") is not None:
            result[name] = "skipped: " + (case.find("skipped").get("message") or "")[:60]
        else:
            result[name] = "passed"
    return result


def clip(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None, help="default: the environment's DATABASE_URL (SQLite)")
    parser.add_argument("-k", dest="keyword", default=None, help="only the tests pytest -k selects")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="brainscribe-faults-"))
    report, junit = work / "faults.jsonl", work / "junit.xml"
    env = os.environ | {"BRAINSCRIBE_FAULT_REPORT": str(report)}
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "slow or not slow"]
    command += [f"--junitxml={junit}", *TESTS]
    if args.keyword:
        command += ["-k", args.keyword]
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if not junit.exists():
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        print("pytest did not run; see its output above")
        return 2

    seen = outcomes(junit)
    records = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    recorded = set()
    rows = []
    for r in records:
        name = r["test"].split("::")[-1]
        recorded.add(name)
        rows.append([r["fault"], clip(r["client_saw"]), clip(r["recovery"]), clip(r["data"]), seen.get(name, "?")])
    for name, outcome in sorted(seen.items()):
        if name not in recorded and outcome != "passed":
            rows.append([name, "", "", "", outcome])
    database = env.get("DATABASE_URL", "sqlite (default)").split("@")[-1]
    print(f"Faults and hostile input, each injected by a test (database: {database}; Redis and PostgreSQL private)")
    print(table(["fault", "what the client saw", "recovery", "data afterwards", "test"], rows))
    failed = [n for n, o in seen.items() if o == "FAILED"]
    print(f"{len(seen)} tests, {len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
