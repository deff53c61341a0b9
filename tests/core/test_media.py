from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from tillbook.catalog.storage import private_storage

PAID_BYTES = b"%PDF-1.7 paid workbook, chapter one"
LOGO_BYTES = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    private_storage().save("downloads/workbook.pdf", ContentFile(PAID_BYTES))
    logos = settings.MEDIA_ROOT / "logos"
    logos.mkdir(parents=True)
    (logos / "acme.gif").write_bytes(LOGO_BYTES)
    return Path(settings.MEDIA_ROOT)


def test_a_logo_is_served(media_root: Path, client: Client) -> None:
    response = client.get("/media/logos/acme.gif")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == LOGO_BYTES  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "path",
    [
        "/media/logos/../private/downloads/workbook.pdf",
        "/media/logos/%2e%2e/private/downloads/workbook.pdf",
        "/media/logos/%2E%2E/private/downloads/workbook.pdf",
        "/media/logos/..%2fprivate/downloads/workbook.pdf",
        "/media/logos/%2e%2e%2fprivate%2fdownloads%2fworkbook.pdf",
        "/media/logos/./../private/downloads/workbook.pdf",
        "/media/logos//../private/downloads/workbook.pdf",
        "/media/logos/..\\private\\downloads\\workbook.pdf",
    ],
)
def test_paid_files_cannot_be_reached_through_the_logo_url(
    media_root: Path, client: Client, path: str
) -> None:
    assert (media_root / "private" / "downloads" / "workbook.pdf").read_bytes() == PAID_BYTES

    response = client.get(path)

    assert response.status_code == 404
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert PAID_BYTES not in body


@pytest.mark.parametrize(
    "path", ["/media/logos/missing.gif", "/media/logos/", "/media/logos/%00", "/media/private/"]
)
def test_unknown_paths_are_not_found(media_root: Path, client: Client, path: str) -> None:
    assert client.get(path).status_code == 404
