"""Importers: folder layouts (BraTS 2021/2023, ISLES 2022, generic, DICOM) and RadGenome reports."""
