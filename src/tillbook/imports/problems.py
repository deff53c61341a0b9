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


class ImportFileInvalid(InvalidInput):
    """The file cannot be imported; `problems` lists the first ones, `total` counts them all."""

    def __init__(self, problems: list[FileProblem], total: int | None = None) -> None:
        self.problems = problems[:MAX_REPORTED_PROBLEMS]
        self.total = len(problems) if total is None else total
        if self.total == 1:
            message = f"{self.problems[0]}. Nothing was imported."
        else:
            message = (
                f"The file has {self.total} problems; nothing was imported. "
                "Fix them and import it again."
            )
        message = message[0].upper() + message[1:]
        super().__init__(message)
