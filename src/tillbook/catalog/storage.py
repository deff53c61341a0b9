"""Where paid files live: a folder that no URL serves. Downloads go through a view that checks
the buyer's grant (limit, expiry) before streaming the file; a public media URL would let anyone
with the link download forever."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import FileSystemStorage


def private_storage() -> FileSystemStorage:
    return FileSystemStorage(location=settings.MEDIA_ROOT / "private", base_url=None)
