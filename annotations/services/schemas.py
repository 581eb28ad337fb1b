"""Built-in label schemas, loaded from the CSV tables under ``annotations/schemas/``."""

from __future__ import annotations

import colorsys
import csv
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from annotations.models import Label, LabelKind, LabelSchema

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

BUILTIN_SCHEMAS = {
    "hammers-n30r95": (
        "Hammers n30r95",
        "The 95 structures of the Hammers adult brain atlas that AutoRG-Brain segments.",
    ),
    "demo-aal3": (
        "Demo atlas (AAL3 groups)",
        "AAL3 regions grouped into the coarse structures a report names, plus lateral ventricles from tissue "
        "maps; used by the synthetic demo data.",
    ),
}


@dataclass(frozen=True)
class LabelRow:
    index: int
    name: str
    side: str
    coarse_region: str
    color: str


def _structure_color(index: int, side: str) -> str:
    # Golden-angle hues keep neighbouring indices apart; left and right differ in lightness.
    hue = (index * 0.618033988749895) % 1.0
    light = 0.55 if side == "left" else 0.45
    r, g, b = colorsys.hls_to_rgb(hue, light, 0.75)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def read_structure_table(path: Path) -> list[LabelRow]:
    with path.open(newline="") as fh:
        return [
            LabelRow(
                index=int(row["index"]),
                name=row["name"].strip(),
                side=row.get("side", "").strip(),
                coarse_region=row.get("coarse_region", "").strip(),
                color=(row.get("color") or "").strip() or _structure_color(int(row["index"]), row.get("side", "")),
            )
            for row in csv.DictReader(fh)
        ]


def read_lesion_table(path: Path | None = None) -> list[LabelRow]:
    with (path or SCHEMA_DIR / "lesions.csv").open(newline="") as fh:
        return [
            LabelRow(index=int(r["index"]), name=r["name"], side="", coarse_region=r["finding"], color=r["color"])
            for r in csv.DictReader(fh)
        ]


@transaction.atomic
def schema_sync_builtin() -> list[LabelSchema]:
    """Create or update the built-in schemas from their tables; safe to run on every migrate."""
    lesions = read_lesion_table()
    synced = []
    for slug, (name, description) in BUILTIN_SCHEMAS.items():
        table = SCHEMA_DIR / f"{slug}.csv"
        if not table.exists():
            continue
        schema, _ = LabelSchema.objects.update_or_create(
            slug=slug, defaults={"name": name, "description": description, "builtin": True}
        )
        for kind, rows in ((LabelKind.STRUCTURE, read_structure_table(table)), (LabelKind.LESION, lesions)):
            for row in rows:
                Label.objects.update_or_create(
                    schema=schema,
                    kind=kind,
                    index=row.index,
                    defaults={
                        "name": row.name,
                        "side": row.side,
                        "coarse_region": row.coarse_region,
                        "color": row.color,
                    },
                )
            Label.objects.filter(schema=schema, kind=kind).exclude(index__in=[r.index for r in rows]).delete()
        synced.append(schema)
    return synced


def schema_label_indices(schema: LabelSchema, kind: str) -> set[int]:
    return set(schema.labels.filter(kind=kind).values_list("index", flat=True))
