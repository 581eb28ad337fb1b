import pytest

from inference.ml.metrics.entities import Entity, entity_f1, report_entities
from inference.ml.metrics.text import bleu_scores, ratescore, rouge_scores

REPORT = "A round mass is seen in the left frontal lobe. There is moderate surrounding edema. No midline shift."


def test_identical_reports_score_full_marks():
    bleu = bleu_scores([REPORT], [REPORT])
    rouge = rouge_scores([REPORT], [REPORT])
    assert all(v == pytest.approx(100.0) for v in bleu.values())
    assert rouge["rouge1"] == pytest.approx(100.0) and rouge["rougeLsum"] == pytest.approx(100.0)


def test_bleu_orders_fall_with_ngram_length():
    bleu = bleu_scores(["the mass is in the left frontal lobe"], ["a mass is seen in the right frontal lobe"])
    assert bleu["bleu1"] > bleu["bleu2"] > bleu["bleu3"] >= bleu["bleu4"]


def test_entities_carry_region_side_finding_and_negation():
    entities = report_entities("A mass is seen in the left frontal lobe. The basal ganglia are unremarkable.")
    assert Entity("frontal lobe", "left", "mass", False) in entities
    assert Entity("basal ganglia", "", "abnormality", True) in entities


def test_entity_f1_penalises_the_wrong_side():
    right = entity_f1([REPORT], [REPORT])
    wrong = entity_f1([REPORT.replace("left", "right")], [REPORT])
    assert right["entity_f1"] == pytest.approx(1.0)
    assert wrong["entity_f1"] < 1.0
    assert wrong["region_f1"] == pytest.approx(1.0)
    assert wrong["side_f1"] < 1.0


def test_ratescore_without_weights_says_not_configured(tmp_path):
    assert ratescore([REPORT], [REPORT]).status == "not configured"
    assert ratescore([REPORT], [REPORT], weights_path=tmp_path / "absent").status == "not configured"


@pytest.mark.slow
def test_embedding_similarity_prefers_the_paraphrase():
    from inference.ml.metrics.text import embedding_similarity

    close = embedding_similarity(["A mass lies in the left frontal lobe."], [REPORT])
    far = embedding_similarity(["The weather is sunny today."], [REPORT])
    assert close > far
