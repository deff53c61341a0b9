"""The OpenAPI document as committed in openapi.json (a test checks it has not drifted)."""

from __future__ import annotations

import json
from typing import Any

from tillbook.api.urls import api


def openapi_document() -> dict[str, Any]:
    return api.get_openapi_schema(path_prefix="/api/v1/")


def openapi_text() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
