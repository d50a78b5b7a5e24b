"""Exceptions raised by spermlab."""

from __future__ import annotations

from os import PathLike

__all__ = ["FormatError", "OutputError", "UsageError"]


class FormatError(ValueError):
    """A file does not follow the format its reader expects.

    Every reader in :mod:`spermlab.io` raises this with enough context to find and fix
    the problem by hand: the file, the 1-based line number (when the format has lines),
    the offending line itself and what was expected there.

    Parameters
    ----------
    path : str or PathLike
        The file that is malformed.
    message : str
        What is wrong, stated as expected-versus-got.
    line_no : int, optional
        1-based line number of the problem; ``None`` for whole-file problems.
    line : str, optional
        The offending line, verbatim (without its newline).
    """

    def __init__(
        self,
        path: str | PathLike[str],
        message: str,
        *,
        line_no: int | None = None,
        line: str | None = None,
    ) -> None:
        self.path = str(path)
        self.message = message
        self.line_no = line_no
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.line_no is None else f"{self.path}:{self.line_no}"
        text = f"{where}: {self.message}"
        if self.line is not None:
            text += f"\n    line: {self.line!r}"
        return text

    def __reduce__(self):  # keep the context across process pools (batch runs)
        return (_rebuild, (self.path, self.message, self.line_no, self.line))


def _rebuild(path: str, message: str, line_no: int | None, line: str | None) -> FormatError:
    return FormatError(path, message, line_no=line_no, line=line)


class UsageError(ValueError):
    """The command line asks for something that cannot work: an option's value, or two
    options that do not go together. The CLI exits with code 2 (bad input files exit 1).
    The message names the command-line flag."""


class OutputError(UsageError):
    """An output path that cannot be written as asked (a file where a folder is needed, a
    folder holding someone else's files, no permission, another run writing there)."""
