"""Brainscribe's numeric core: segmentation, grounded report generation and metrics.

Nothing here imports Django, so the same code runs in a Celery worker, a notebook or a test without
a database. Heavy dependencies (torch, MONAI, sentence-transformers) are imported inside the
modules that need them: ``import inference.ml.report`` stays cheap enough for the web process.

Modules, one concern each:
- ``schema``: label schemas (structures with side and coarse region) and the lesion label set
- ``config``: the one typed hyperparameter object, hashed into every model id
- ``preprocess``: reorient and resample onto the RAS model grid, normalise, flag missing modalities
- ``resample``: probabilities from the model grid back onto the case's native grid
- ``networks``: the two-head MONAI network
- ``checkpoints``: checkpoints that carry their metadata and load with ``weights_only=True``
- ``datasets``: training cases on disk and the cache of their preprocessed arrays
- ``training`` / ``train`` / ``curves``: the resumable training loop, its command line, its figure
- ``predict``: sliding-window inference for one case on its native grid
- ``postprocess``: connected components, small-component removal, lesion borders refined onto the images
- ``report``: lesion features, sentences grounded in label ids, the consistency checker
- ``metrics``: segmentation and report metrics
"""
