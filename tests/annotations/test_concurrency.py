"""Two clients that save on top of the same version at the same moment: exactly one wins.

Runs with real threads and their own database connections (PostgreSQL in CI, SQLite locally).
"""

import gzip
import threading

import nibabel as nib
import numpy as np
import pytest
from django.db import connection

from annotations.models import MaskVersion, ReportVersion


def _edited(body: bytes, voxel: tuple[int, int, int]) -> bytes:
    img = nib.Nifti1Image.from_bytes(gzip.decompress(body))
    data = np.asarray(img.dataobj).copy()
    data[voxel] = 1
    return gzip.compress(nib.Nifti1Image(data, img.affine, img.header).to_bytes())


def _race(requests):
    barrier = threading.Barrier(len(requests))
    results = [None] * len(requests)

    def run(i, send):
        try:
            barrier.wait()
            results[i] = send()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, send)) for i, send in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_mask_saves_on_the_same_version_one_wins_one_gets_409(members, client_for, make_case, attempt):
    case = make_case()
    clients = [client_for(members["annotator"]), client_for(members["reviewer"])]
    body = clients[0].get(f"/api/cases/{case.pk}/masks/lesion").content
    bodies = [_edited(body, (1, 1, 1)), _edited(body, (2, 2, 2))]
    responses = _race(
        [
            lambda c=c, b=b: c.put(
                f"/api/cases/{case.pk}/masks/lesion", data=b, content_type="application/gzip", HTTP_IF_MATCH='"0"'
            )
            for c, b in zip(clients, bodies, strict=True)
        ]
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["current_version"] == 1
    assert MaskVersion.objects.filter(case=case, kind="lesion").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_report_saves_on_the_same_version_one_wins(members, client_for, make_case):
    case = make_case()
    clients = [client_for(members["annotator"]), client_for(members["reviewer"])]
    responses = _race(
        [
            lambda c=c, t=t: c.put(
                f"/api/cases/{case.pk}/report", {"sentences": [{"text": t}]}, format="json", HTTP_IF_MATCH='"0"'
            )
            for c, t in zip(clients, ["Mine.", "Theirs."], strict=True)
        ]
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert ReportVersion.objects.filter(case=case).count() == 1
