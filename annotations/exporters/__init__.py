"""Dataset exports from frozen snapshots: nnU-Net v2, MONAI datalist, RadGenome-Brain, BIDS, grounded JSONL.

``run.export_write`` is the loop, ``registry.EXPORTERS`` the formats, ``sinks`` the destinations
(a folder or a zip), ``jobs`` the export job and its downloadable archive.
"""
