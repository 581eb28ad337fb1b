def put_report(client, case, sentences, if_match):
    return client.put(f"/api/cases/{case.pk}/report", {"sentences": sentences}, format="json", HTTP_IF_MATCH=if_match)


def test_model_draft_then_clinician_edit_keeps_the_original_text(members, client_for, make_case):
    from annotations.services.reports import report_save

    case = make_case()
    report_save(
        case=case,
        expected_version=0,
        user=None,
        source="model",
        sentences=[
            {"text": "A lesion in the left frontal lobe.", "region_label_ids": [1], "lesion_component": 1},
            {"text": "The ventricles are normal.", "kind": "normal", "region_label_ids": [31, 32]},
        ],
    )
    client = client_for(members["annotator"])
    draft = client.get(f"/api/cases/{case.pk}/report")
    assert draft["ETag"] == '"1"'
    sentences = draft.json()["sentences"]
    sentences[0]["text"] = "A 3 cm lesion in the left frontal lobe."
    sentences[1]["status"] = "accepted"
    sentences.append({"text": "No midline shift.", "kind": "global"})
    saved = put_report(client, case, sentences, '"1"')
    assert saved.status_code == 200, saved.json()
    body = saved.json()
    assert body["version"] == 2 and body["parent_version"] == 1
    first, second, third = body["sentences"]
    assert (first["status"], first["original_text"], first["source"]) == (
        "edited",
        "A lesion in the left frontal lobe.",
        "model",
    )
    assert first["region_label_ids"] == [1] and first["lesion_component"] == 1
    assert second["status"] == "accepted"
    assert (third["status"], third["source"], third["original_text"]) == ("added", "human", "")
    assert (
        client.get(f"/api/cases/{case.pk}/report?version=1").json()["sentences"][0]["text"]
        == "A lesion in the left frontal lobe."
    )


def test_stale_report_save_gets_409(members, client_for, make_case):
    case = make_case()
    client = client_for(members["annotator"])
    assert put_report(client, case, [{"text": "First."}], '"0"').status_code == 200
    stale = put_report(client, case, [{"text": "Second."}], '"0"')
    assert stale.status_code == 409 and stale.json()["current_version"] == 1


def test_report_save_without_if_match_gets_428(members, client_for, make_case):
    case = make_case()
    response = client_for(members["annotator"]).put(f"/api/cases/{case.pk}/report", {"sentences": []}, format="json")
    assert response.status_code == 428


def test_regions_must_be_structures_of_the_schema(members, client_for, make_case):
    case = make_case()
    response = put_report(client_for(members["annotator"]), case, [{"text": "x", "region_label_ids": [999]}], "0")
    assert response.status_code == 400 and "999" in response.json()["detail"]


def test_report_history_lists_versions(members, client_for, make_case):
    case = make_case()
    client = client_for(members["annotator"])
    put_report(client, case, [{"text": "One."}], "0")
    put_report(client, case, [{"text": "Two."}], "1")
    history = client.get(f"/api/cases/{case.pk}/report/versions/").json()["results"]
    assert [h["version"] for h in history] == [2, 1]
