from __future__ import annotations

from typing import Any

import pytest

from tillbook.core.models import Business

from .shop import Shop, build_shop


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def shop(scoped: Business) -> Shop:
    return build_shop(scoped)
