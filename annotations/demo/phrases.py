"""Wordings of every kind of report sentence, a few each, in the style of RadGenome-Brain reports.

The report seed picks one wording per sentence, so a generator cannot reach a perfect score by
reproducing a single template. Slots in braces are filled from measured findings.
"""

from __future__ import annotations

PHRASES: dict[str, tuple[str, ...]] = {
    # lesion: location and size
    "mass": (
        "{A} {shape} {noun} is seen in the {loc}, measuring approximately {size}.",
        "There is {a} {shape} space-occupying {noun} in the {loc}, about {size} in size.",
        "In the {loc}, {a} {shape} abnormal signal focus measuring about {size} is identified.",
    ),
    "meningioma": (
        "A dural-based extra-axial mass is seen adjacent to the {loc}, measuring approximately {size}.",
        "An extra-axial mass with a broad dural base overlies the {loc}, about {size} in size.",
        "Along the convexity next to the {loc} there is a well-circumscribed extra-axial mass of {size}.",
    ),
    "infarct": (
        "An area of abnormal signal is seen in the {loc}, measuring about {size}.",
        "There is a patchy lesion in the {loc} of approximately {size}.",
        "Abnormal signal involving the {loc} is noted, about {size} in extent.",
    ),
    "wmh": (
        "Multiple patchy white matter hyperintensities are seen in the {loc}, predominantly periventricular.",
        "Periventricular and deep white matter hyperintensities are present in the {loc}.",
        "Scattered and confluent areas of abnormal signal involve the white matter of the {loc}.",
    ),
    "fazekas": (" The appearance corresponds to Fazekas grade {grade}.", " Fazekas grade {grade}."),
    "signal_lead": ("It shows ", "The lesion demonstrates ", "It has "),
    "signal_lead_wmh": ("They show ", "The lesions demonstrate ", "They have "),
    "restricted": (
        "Diffusion is restricted, bright on DWI and dark on the ADC map.",
        "There is restricted diffusion with high DWI signal and reduced ADC.",
        "DWI shows high signal with corresponding low ADC values, in keeping with restricted diffusion.",
    ),
    "edema": (
        "There is {extent} surrounding edema.",
        "{Extent} perilesional vasogenic edema is present.",
        "The surrounding brain parenchyma shows {extent} edema.",
    ),
    # modal-wise findings
    "modal_enhancement": (
        "After contrast administration, {what} {at} {loc} {show} {enhancement}.",
        "On post-contrast T1WI, {what} {at} {loc} {demonstrate} {enhancement}.",
    ),
    "modal_signal": (
        "On {seq}, {what} {at} {loc} {show} {signal}.",
        "{What} {at} {loc} {exhibit} {signal} on {seq}.",
        "{Signal} is seen on {seq} in {what} {at} {loc}.",
    ),
    "modal_edema": ("Surrounding edema shows {signal}.", "The perilesional edema is of {signal}."),
    "modal_normal": (
        "On {seq}, no abnormal signal is seen in the brain parenchyma.",
        "No abnormal signal intensity is identified on {seq}.",
        "The brain parenchyma shows normal signal on {seq}.",
    ),
    "modal_normal_contrast": (
        "No abnormal enhancement is seen after contrast.",
        "Post-contrast images show no abnormal enhancement.",
    ),
    # global statements
    "compressed": (
        "The {sides} {noun} {verb} compressed.",
        "There is mass effect with effacement of the {sides} {noun}.",
        "The adjacent {sides} {noun} {verb} narrowed by mass effect.",
    ),
    "shift": (
        "Midline structures are shifted to the {direction} by {mm}.",
        "There is a midline shift of {mm} to the {direction}.",
        "The midline is displaced {mm} towards the {direction}.",
    ),
    "no_shift": (
        "Midline structures are centred.",
        "There is no midline shift.",
        "No shift of the midline structures is seen.",
    ),
    # normal regions
    "normal_ventricles": (
        "The ventricular system is normal in size and configuration.",
        "The ventricles are normal in size and shape.",
        "No dilatation of the ventricular system is seen.",
    ),
    "normal_fossa": (
        "No abnormal signal is seen in the brainstem or cerebellum.",
        "The brainstem and cerebellum are unremarkable.",
        "The posterior fossa structures show normal signal.",
    ),
    "normal_deep_grey": (
        "The basal ganglia and thalami are unremarkable.",
        "Normal signal is seen in the basal ganglia and thalami.",
        "No abnormality is seen in the deep grey nuclei.",
    ),
    "normal_lobes": (
        "Grey-white matter differentiation is preserved in {the} cerebral lobes.",
        "No abnormal signal is seen in {the} cerebral hemispheres.",
        "{The} cerebral parenchyma shows normal signal intensity.",
    ),
    # impressions
    "impression_normal": (
        "No significant intracranial abnormality.",
        "Normal MRI of the brain.",
        "No acute intracranial abnormality is identified.",
    ),
    "impression_glioma": (
        "Space-occupying lesion in the {loc} with {necrosis}surrounding edema{shift}, likely a high-grade glioma.",
        "{Loc} intra-axial mass{shift}, consistent with a glioma (high grade favoured).",
    ),
    "impression_metastases": (
        "Multiple intra-axial lesions ({many}), the largest in the {loc}, suggestive of metastases.",
        "Findings in keeping with metastatic disease: {many}, largest in the {loc}.",
    ),
    "impression_metastasis": (
        "Intra-axial enhancing lesion in the {loc}, metastasis to be considered.",
        "Solitary enhancing lesion in the {loc}, suspicious for a metastasis.",
    ),
    "impression_meningioma": (
        "Extra-axial dural-based mass adjacent to the {loc}, consistent with meningioma{shift}.",
        "Meningioma adjacent to the {loc}{shift}.",
    ),
    "impression_infarct": (
        "Acute {territory} infarct involving the {loc}.",
        "Acute ischaemic infarct in the {loc} ({territory}).",
    ),
    "impression_wmh": (
        "Cerebral small vessel disease, Fazekas grade {grade}.",
        "White matter hyperintensities (Fazekas {grade}), most likely chronic small vessel ischaemic change.",
    ),
}

ENHANCEMENT: dict[str, tuple[str, ...]] = {
    "ring": ("marked ring-like enhancement", "irregular rim enhancement", "thick peripheral ring enhancement"),
    "homogeneous": ("marked homogeneous enhancement", "intense uniform enhancement", "avid homogeneous enhancement"),
    "nodular": ("nodular enhancement", "solid nodular enhancement", "avid nodular enhancement"),
    "heterogeneous": ("heterogeneous enhancement", "patchy uneven enhancement", "inhomogeneous enhancement"),
    "none": ("no enhancement", "no abnormal enhancement", "no appreciable enhancement"),
}

SIZE: tuple[str, ...] = ("{a}*{b}*{c} mm", "{a} x {b} x {c} mm", "{a} mm x {b} mm x {c} mm")
