"""The report generator learns the clinicians' phrasing from accepted and edited sentences."""

import random

from inference.ml.metrics import bleu_scores, rouge_scores
from inference.ml.report.learning import SentenceOutcome, identify, learn_phrasebook, templatise
from inference.ml.report.writers import DEFAULT_PHRASEBOOK as BOOK

EXTENTS = ["mild", "moderate", "extensive"]


def clinician(extent: str, shift_mm: str) -> dict[str, str]:
    """How these (simulated) clinicians write the same findings."""
    return {
        "edema": f"Perilesional oedema is {extent}.",
        "shift": f"Midline shift of {shift_mm} mm to the left.",
        "centred": "No midline shift.",
    }


def model(extent: str, shift_mm: str) -> dict[str, str]:
    return {
        "edema": BOOK.edema.format(extent=extent),
        "shift": BOOK.shift.format(mm=shift_mm, direction="left"),
        "centred": BOOK.centred,
    }


def outcomes(n: int, seed: int) -> list[SentenceOutcome]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        extent, mm = rng.choice(EXTENTS), str(rng.randint(3, 9))
        drafted, final = model(extent, mm), clinician(extent, mm)
        for role in drafted:
            out.append(SentenceOutcome(drafted[role], final[role], "edited"))
        out.append(SentenceOutcome(BOOK.ventricles_normal, BOOK.ventricles_normal, "accepted"))
        out.append(SentenceOutcome(BOOK.deep_grey_normal, BOOK.deep_grey_normal, "rejected"))
    return out


def test_the_role_and_slot_values_of_a_model_sentence_are_recovered():
    assert identify("There is moderate surrounding edema.") == ("edema", {"extent": "moderate"})
    role, values = identify(
        "An irregular glioma is seen in the left frontal lobe, measuring approximately 4 x 3 x 2 cm."
    )
    assert role == "mass" and values["location"] == "left frontal lobe"
    assert templatise("Perilesional oedema is moderate.", {"extent": "moderate"}) == "Perilesional oedema is {extent}."
    assert templatise("Perilesional oedema is severe.", {"extent": "moderate"}) is None


def test_consistent_edits_become_the_phrasebook_and_rejections_drop_a_role():
    learnt = learn_phrasebook(outcomes(6, seed=1))
    assert learnt.phrasebook.edema == "Perilesional oedema is {extent}."
    assert (
        learnt.phrasebook.shift == "Midline shift of {mm} mm to the {direction}."
        or learnt.phrasebook.shift == "Midline shift of {mm} mm to the left."
    )
    assert learnt.phrasebook.centred == "No midline shift."
    assert learnt.phrasebook.ventricles_normal == BOOK.ventricles_normal  # accepted as is
    assert learnt.phrasebook.deep_grey_normal == ""  # always rejected: left out
    assert "edema" in learnt.changed_roles


def test_a_single_edit_is_not_enough_to_change_the_phrasing():
    learnt = learn_phrasebook(outcomes(1, seed=2))
    assert learnt.phrasebook.edema == BOOK.edema and not learnt.changed_roles


def test_the_learnt_writer_scores_better_against_clinicians_on_new_cases():
    learnt = learn_phrasebook(outcomes(8, seed=3)).phrasebook
    rng = random.Random(99)
    default_text, learnt_text, references = [], [], []
    for _ in range(10):
        extent, mm = rng.choice(EXTENTS), str(rng.randint(3, 9))
        references.append(" ".join(clinician(extent, mm).values()))
        default_text.append(" ".join(model(extent, mm).values()))
        learnt_text.append(
            " ".join([learnt.edema.format(extent=extent), learnt.shift.format(mm=mm, direction="left"), learnt.centred])
        )
    before = {**bleu_scores(default_text, references), **rouge_scores(default_text, references)}
    after = {**bleu_scores(learnt_text, references), **rouge_scores(learnt_text, references)}
    assert after["bleu4"] > before["bleu4"] + 20
    assert after["rouge1"] > before["rouge1"]
