from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_documents_every_environment_variable() -> None:
    sources = (ROOT / "src/tillbook/settings.py").read_text() + (
        ROOT / "src/tillbook/core/config.py"
    ).read_text()
    variables = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', sources))
    readme = (ROOT / "README.md").read_text()
    assert {"DATABASE_URL", "TILLBOOK_DEBUG", "TILLBOOK_EMAIL_URL"} <= variables
    assert sorted(name for name in variables if f"`{name}`" not in readme) == []


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
