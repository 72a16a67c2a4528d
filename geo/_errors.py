"""Error family for bad input: every problem names its file, row, field and value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class AtlasError(ValueError):
    """Base of every error the atlas raises for bad input (a file, a name, a parameter).

    The CLI reports these (and OSError) as one message and exit 2; anything else is a bug.
    """


class InputError(AtlasError):
    """A parameter or option value that cannot be used; the message names it and what works."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one value in one file."""

    file: str
    row: int | None  # 1-based data row (header not counted); None for file-level problems
    field: str | None
    value: object
    message: str

    def __str__(self) -> str:
        where = [Path(self.file).name if self.file else "<input>"]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field '{self.field}'")
        shown = "" if self.value is None else f" (got {self.value!r})"
        return f"{', '.join(where)}: {self.message}{shown}"


class DataError(AtlasError):
    """Raised once per file with every problem found in it."""

    def __init__(self, problems: list[Problem] | Problem, *, file: str | None = None):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        self.file = file or (self.problems[0].file if self.problems else "")
        count = len(self.problems)
        head = f"{self.file}: {count} problem{'s' if count != 1 else ''} found"
        lines = [head, *(f"  - {p}" for p in self.problems[:200])]
        if count > 200:
            lines.append(f"  ... and {count - 200} more")
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from its problems, not its message: errors raised on Dask workers travel
        # back to the client by pickle.
        return (_data_error, (self.problems, self.file))


def _data_error(problems: list[Problem], file: str) -> DataError:
    return DataError(problems, file=file)


class UnknownNameError(AtlasError):
    """A town, industry, category, level or status name that is not in the catalog."""


class StoreError(AtlasError):
    """A store request that cannot be carried out (unknown facility, change or user; bad URL)."""


class ConflictError(StoreError):
    """A write based on a stale version: someone else changed the facility first."""


class AccessDeniedError(StoreError):
    """The user is unknown, disabled, or their role does not allow the request."""


class TooManyAttemptsError(AccessDeniedError):
    """Too many failed sign-ins for an account or from an address; ``retry_after_s`` says
    how many seconds until the next attempt is accepted."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s
