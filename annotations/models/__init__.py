"""The case store: every mask edit and every sentence edit is an immutable, authored version."""

from annotations.models.audit import AuditEvent
from annotations.models.cases import Case, CaseStatus, Split, Volume
from annotations.models.masks import MaskKind, MaskVersion, VersionSource
from annotations.models.projects import Membership, Project, Role
from annotations.models.reports import ReportVersion, Sentence, SentenceKind, SentenceStatus
from annotations.models.reviews import Review, ReviewAction
from annotations.models.schemas import Label, LabelKind, LabelSchema
from annotations.models.snapshots import DatasetSnapshot, Export, ExportFormat

__all__ = [
    "AuditEvent",
    "Case",
    "DatasetSnapshot",
    "Export",
    "ExportFormat",
    "CaseStatus",
    "Label",
    "LabelKind",
    "LabelSchema",
    "MaskKind",
    "MaskVersion",
    "Membership",
    "Project",
    "ReportVersion",
    "Review",
    "ReviewAction",
    "Role",
    "Sentence",
    "SentenceKind",
    "SentenceStatus",
    "Split",
    "VersionSource",
    "Volume",
]
