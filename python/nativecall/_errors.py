"""Every nativecall exception class, defined once (the extension raises these same classes).

Kept apart from the frontend and with no imports, so loading it is cheap.
"""


class SignatureError(ValueError):
    """A signature or type string that does not parse; the message shows the text with a
    caret. Carries ``text`` (what was parsed) and ``position`` (the character offset)."""

    def __init__(self, message, text="", position=0):
        self.text = text
        self.position = position
        super().__init__(message)


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


class KernelCompileFailure(CompileError):
    """Internal: the native compiler's report, ``args == (kind, message, line, col)`` with
    ``kind`` one of ``unsupported``, ``typing``, ``no-signature``, ``name``, ``codegen``.
    For ``no-signature`` (a call no signature of the callee accepts, a typing error to the
    user) ``arg_types`` names the call's argument types in the kernel spelling. The
    frontend re-raises it as the matching CompileError subclass pointing into the kernel's
    source; uncaught, it is still a CompileError."""

    def __init__(self, kind, message, line=0, col=0, arg_types=()):
        super().__init__(message, "<kernel>", line, col)
        self.kind = kind
        self.arg_types = tuple(arg_types)
        self.args = (kind, message, line, col)
