"""Exceptions of the ondine Python package: one class per status of the C library's
enum ond_status, all under OndineError, so callers can catch one kind of failure or all."""


class OndineError(Exception):
    """A failure reported by ondine. `status` is the C library's enum ond_status value (None
    for a failure of the command line, see CommandFailed), `message` its text."""

    status = None
    #: The C library's name of the status (ond_status_name), e.g. "invalid input"; the
    #: package's tests check each class's name against the library's.
    status_name = "unknown status"

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidArgument(OndineError):
    """A bad argument from the caller (out of range, wrong type, unknown output name)."""
    status = 1
    status_name = "invalid argument"


class InvalidModel(OndineError):
    """The model bytes or graph break an ONNX rule."""
    status = 2
    status_name = "invalid model"


class Unsupported(OndineError):
    """Valid ONNX that ondine does not run (op, type, opset, precision), or a command-line
    feature this build of ondine lacks."""
    status = 3
    status_name = "unsupported"


class InvalidInput(OndineError):
    """A run-time input does not fit the model (name, dtype, rank, dims)."""
    status = 4
    status_name = "invalid input"


class LimitExceeded(OndineError):
    """A resource limit was exceeded."""
    status = 5
    status_name = "limit exceeded"


class IOFailure(OndineError):
    """A file could not be read or written."""
    status = 6
    status_name = "i/o error"


class OutOfMemory(OndineError):
    """An allocation failed."""
    status = 7
    status_name = "out of memory"


class BackendError(OndineError):
    """oneDNN refused or failed."""
    status = 8
    status_name = "backend error"


class CommandFailed(OndineError):
    """The ondine command line (used by inspect and optimize) exited with an error; it does
    not report a status, so `status` is None. `returncode` is its exit status (1: a failure
    the message explains, 2: bad usage)."""

    status_name = "command failed"

    def __init__(self, message, returncode):
        super().__init__(message)
        self.returncode = returncode


_BY_STATUS = {c.status: c for c in (InvalidArgument, InvalidModel, Unsupported, InvalidInput,
                                    LimitExceeded, IOFailure, OutOfMemory, BackendError)}


def from_status(status, message):
    """The exception for a C status; a status this package does not know (a newer library)
    still raises an OndineError that carries it."""
    cls = _BY_STATUS.get(status)
    return cls(message) if cls else OndineError(message, status)
