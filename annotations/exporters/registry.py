"""Export formats by name: the one place a format is added (names match ``ExportFormat``)."""

from __future__ import annotations

from annotations.exporters.base import Exporter
from annotations.exporters.bids import BidsExporter
from annotations.exporters.jsonl import JsonlExporter
from annotations.exporters.monai import MonaiExporter
from annotations.exporters.nnunet import NnUNetExporter
from annotations.exporters.radgenome import RadGenomeExporter

EXPORTERS: dict[str, type[Exporter]] = {
    "nnunet": NnUNetExporter,
    "monai": MonaiExporter,
    "radgenome": RadGenomeExporter,
    "bids": BidsExporter,
    "jsonl": JsonlExporter,
}
