"""Embed links for lesson videos from the few hosts lessons accept (catalog.services)."""

from __future__ import annotations

import re

_PATTERNS = (
    (
        re.compile(r"^https://(?:www\.)?youtube\.com/watch\?(?:.*&)?v=([\w-]{6,20})"),
        "https://www.youtube-nocookie.com/embed/{}",
    ),
    (re.compile(r"^https://youtu\.be/([\w-]{6,20})"), "https://www.youtube-nocookie.com/embed/{}"),
    (
        re.compile(r"^https://(?:www\.)?youtube(?:-nocookie)?\.com/embed/([\w-]{6,20})"),
        "https://www.youtube-nocookie.com/embed/{}",
    ),
    (
        re.compile(r"^https://(?:player\.)?vimeo\.com/(?:video/)?(\d{4,15})"),
        "https://player.vimeo.com/video/{}",
    ),
    (
        re.compile(r"^https://(?:www\.)?loom\.com/(?:share|embed)/([0-9a-f]{16,40})"),
        "https://www.loom.com/embed/{}",
    ),
)


def video_embed_url(url: str) -> str:
    """The iframe address for a video page link, or "" when the link is not one we embed."""
    for pattern, template in _PATTERNS:
        match = pattern.match(url or "")
        if match:
            return template.format(match.group(1))
    return ""
