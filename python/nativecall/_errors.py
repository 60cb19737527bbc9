"""Compile errors for kernels (kept apart from the frontend so importing them is cheap)."""


class CompileError(Exception):
    """A kernel did not compile. Carries ``filename``, ``lineno``, ``col_offset`` and
    ``source_line``; the message shows the line with a caret under the problem."""

    def __init__(self, message, filename="<unknown>", lineno=0, col_offset=0, source_line=""):
        self.message = message
        self.filename = filename
        self.lineno = lineno
        self.col_offset = col_offset
        self.source_line = source_line
        super().__init__(message)

    def __str__(self):
        where = f'\n  File "{self.filename}", line {self.lineno}'
        if not self.source_line:
            return self.message + where
        stripped = self.source_line.lstrip()
        caret = " " * max(0, self.col_offset - (len(self.source_line) - len(stripped)))
        return f"{self.message}{where}\n    {stripped.rstrip()}\n    {caret}^"


class UnsupportedError(CompileError, NotImplementedError):
    """A construct outside the kernel language."""


class TypingError(CompileError, TypeError):
    """A type mismatch, or a call whose argument types do not match."""


class UndefinedNameError(CompileError, NameError):
    """A name the kernel uses is not defined."""
