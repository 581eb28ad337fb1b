"""Simulated annotators against a real stack, and the audit that nothing was lost or duplicated.

Each annotator takes the next case, opens it, saves its lesion mask and report with If-Match,
submits it, and sometimes saves on a shared "hot" case with a version read a little earlier, which
is how real conflicts happen. Every answer is recorded; afterwards the database must hold exactly
the saves that were answered 200 — each once — and every other save must have been answered 409.
"""

from __future__ import annotations

import gzip
import json
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import nibabel as nib
import numpy as np
import requests

from bench.stack import manage


@dataclass
class LoadResult:
    duration_s: float
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int | str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    accepted: set[tuple[int, str, int]] = field(default_factory=set)  # (case, "lesion"|"report", version)
    rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, name: str, started: float, status: int | str) -> None:
        with self.lock:
            self.samples[name].append((time.perf_counter() - started) * 1000)
            self.statuses[name][status] += 1

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.samples.values())

    def errors(self) -> int:
        return sum(
            n
            for counts in self.statuses.values()
            for code, n in counts.items()
            if not isinstance(code, int) or code >= 500
        )


def _mask_body(shape: tuple[int, int, int], affine: np.ndarray, rng: random.Random) -> bytes:
    labels = np.zeros(shape, np.uint8)
    c = [rng.randrange(4, s - 4) for s in shape]
    labels[c[0] - 3 : c[0] + 3, c[1] - 3 : c[1] + 3, c[2] - 3 : c[2] + 3] = rng.randint(1, 3)
    return gzip.compress(nib.Nifti1Image(labels, affine).to_bytes(), compresslevel=1)


def annotator(
    base: str, token: str, project: int, hot_case: int, shape, affine, deadline: float, result: LoadResult, seed: int
) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"

    def call(name: str, method: str, path: str, **kwargs) -> requests.Response | None:
        started = time.perf_counter()
        try:
            response = session.request(method, base + path, timeout=60, **kwargs)
        except requests.RequestException:
            result.record(name, started, "connection error")
            return None
        result.record(name, started, response.status_code)
        return response

    def save(name: str, case_id: int, kind: str, version: int, **kwargs) -> None:
        path = f"/api/cases/{case_id}/masks/lesion" if kind == "lesion" else f"/api/cases/{case_id}/report"
        response = call(name, "PUT", path, headers={"If-Match": f'"{version}"', **kwargs.pop("headers", {})}, **kwargs)
        if response is None:
            return
        if response.status_code == 200:
            body = response.json()
            if body.get("created", True):
                with result.lock:
                    result.accepted.add((case_id, kind, body["version"]))
        elif response.status_code == 409:
            with result.lock:
                result.rejected += 1

    while time.perf_counter() < deadline:
        call("worklist page", "GET", f"/api/projects/{project}/cases/?page_size=50&ordering=priority")
        nxt = call("next case", "GET", f"/api/projects/{project}/next-case")
        if nxt is None or nxt.status_code != 200:
            time.sleep(0.5)
            continue
        case_id = nxt.json()["id"]
        call("case detail", "GET", f"/api/cases/{case_id}/")
        mask = call("get mask", "GET", f"/api/cases/{case_id}/masks/lesion")
        if mask is None or mask.status_code != 200:
            continue
        version = int(mask.headers["ETag"].strip('"'))
        save(
            "put mask",
            case_id,
            "lesion",
            version,
            data=_mask_body(shape, affine, rng),
            headers={"Content-Type": "application/gzip"},
        )
        report = call("get report", "GET", f"/api/cases/{case_id}/report")
        if report is not None and report.status_code == 200:
            text = f"Finding {rng.randint(0, 10**6)} in the left frontal lobe."
            save(
                "put report",
                case_id,
                "report",
                int(report.headers["ETag"].strip('"')),
                json={"sentences": [{"text": text, "region_label_ids": [1]}]},
            )
        if rng.random() < 0.3:
            hot = call("get mask", "GET", f"/api/cases/{hot_case}/masks/lesion")
            if hot is not None and hot.status_code == 200:
                time.sleep(rng.random() * 0.2)  # think time: someone else may save meanwhile
                save(
                    "put mask (shared case)",
                    hot_case,
                    "lesion",
                    int(hot.headers["ETag"].strip('"')),
                    data=_mask_body(shape, affine, rng),
                    headers={"Content-Type": "application/gzip"},
                )
        call("submit", "POST", f"/api/cases/{case_id}/review", json={"action": "submit"})


def run_load(base: str, info: dict, users: int, duration_s: float, shape, affine) -> LoadResult:
    result = LoadResult(duration_s=duration_s)
    warm = requests.Session()
    warm.headers["Authorization"] = f"Token {info['tokens'][0]}"
    for _ in range(20):  # every gunicorn worker imports its views before the clock starts
        warm.get(f"{base}/api/projects/{info['project']}/cases/?page_size=50", timeout=60)
    deadline = time.perf_counter() + duration_s
    hot_case = info["cases"][0]
    threads = [
        threading.Thread(
            target=annotator,
            args=(base, info["tokens"][i], info["project"], hot_case, shape, affine, deadline, result, i),
        )
        for i in range(users)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration_s + 120)
    return result


AUDIT = """
import json
from annotations.models import MaskVersion, ReportVersion
masks = list(MaskVersion.objects.filter(kind="lesion").values_list("case_id", "version"))
reports = list(ReportVersion.objects.values_list("case_id", "version"))
print(json.dumps({"masks": masks, "reports": reports}))
"""


def audit(env: dict[str, str], result: LoadResult) -> dict[str, object]:
    """Compare what clients were told with what the database holds."""
    stored = json.loads(manage(env, "shell", "-v", "0", "-c", AUDIT).strip().splitlines()[-1])
    rows = [(c, "lesion", v) for c, v in stored["masks"]] + [(c, "report", v) for c, v in stored["reports"]]
    stored_set = set(rows)
    return {
        "accepted saves": len(result.accepted),
        "stored versions": len(rows),
        "duplicates": len(rows) - len(stored_set),
        "accepted but missing": len(result.accepted - stored_set),
        "stored but never accepted": len(stored_set - result.accepted),
        "409 answers": result.rejected,
        "5xx or connection errors": result.errors(),
    }
