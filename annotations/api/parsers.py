from __future__ import annotations

from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import APIException
from rest_framework.parsers import BaseParser


class BodyTooLarge(APIException):
    status_code = 413
    default_detail = "The request body is larger than the upload limit."
    default_code = "too_large"


class NiftiBodyParser(BaseParser):
    """The raw request body as bytes, for NIfTI uploads (.nii or .nii.gz; the content decides, not the type).

    Any content type is accepted so that a client sending the wrong one gets a 400 that says the body
    is not NIfTI, rather than a 415 about media types.
    """

    media_type = "*/*"

    def parse(self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Any = None) -> bytes:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        if length > limit:
            raise BodyTooLarge(f"The body has {length:,} bytes; the limit is {limit:,} (DATA_UPLOAD_MAX_MEMORY_SIZE).")
        if stream is None:
            return b""
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise BodyTooLarge(f"The body is larger than the limit of {limit:,} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE).")
        return data
