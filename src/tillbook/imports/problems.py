"""What went wrong in a file, line by line; a file with any problem writes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from tillbook.core.errors import InvalidInput

MAX_REPORTED_PROBLEMS = 100


@dataclass(frozen=True)
class FileProblem:
    line: int  # 0 when the problem is the file as a whole
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}" if self.line else self.message


def problem_sentence(line: int, message: str) -> str:
    """A problem as a sentence: "Line 7: …." or "The file …." (one full stop, not two)."""
    text = message.rstrip()
    if not text.endswith((".", "?", "!")):
        text += "."
    if line:
        return f"Line {line}: {text}"
    return text[:1].upper() + text[1:]


class ImportFileInvalid(InvalidInput):
    """The file cannot be imported; `problems` lists the first ones, `total` counts them all."""

    def __init__(self, problems: list[FileProblem], total: int | None = None) -> None:
        self.problems = problems[:MAX_REPORTED_PROBLEMS]
        self.total = len(problems) if total is None else total
        if self.total == 1:
            first = self.problems[0]
            message = f"{problem_sentence(first.line, first.message)} Nothing was imported."
        else:
            message = (
                f"The file has {self.total} problems; nothing was imported. "
                "Fix them and import it again."
            )
        super().__init__(message)
