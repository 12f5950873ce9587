"""Checks that a payload carries nothing image-like. Used by every pipeline's payload test."""

from __future__ import annotations

import json
import re
from typing import Any

_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"\x00\x00\x00\x0cjP", b"BM")
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/=]{256,}")
MAX_NUMERIC_ARRAY = 4096  # a 64x64 grey image would already have 4096 values


def image_like_reasons(payload: bytes) -> list[str]:
    """Reasons this payload may carry image data; empty when it looks clean."""
    reasons = [f"contains {magic!r} image signature" for magic in _IMAGE_MAGIC if magic in payload]
    if _BASE64_RUN.search(payload):
        reasons.append("contains a base64-like run of 256+ characters")
    try:
        doc = json.loads(payload)
    except ValueError:
        reasons.append("is not JSON")
        return reasons
    largest = _largest_numeric_array(doc)
    if largest > MAX_NUMERIC_ARRAY:
        reasons.append(f"contains a numeric array of {largest} values")
    return reasons


def _largest_numeric_array(doc: Any) -> int:
    if isinstance(doc, dict):
        return max((_largest_numeric_array(v) for v in doc.values()), default=0)
    if isinstance(doc, list):
        flat = _count_numbers(doc)
        return max([flat, *(_largest_numeric_array(v) for v in doc if isinstance(v, dict))])
    return 0


def _count_numbers(doc: Any) -> int:
    if isinstance(doc, list):
        return sum(_count_numbers(v) for v in doc)
    return 1 if isinstance(doc, int | float) and not isinstance(doc, bool) else 0
