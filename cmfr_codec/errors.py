"""Exceptions that reach the user as one line and an exit code.

The CLI catches :class:`CmfrError` and prints ``str(error)``; anything else is a bug and is
reported as such.  Exit codes follow the usual convention of command-line tools: 2 for
something wrong with what the user asked for (a usage or input error), 1 for a failure of
the codec itself (a corrupt bitstream, a missing model).
"""


class CmfrError(Exception):
    """Base of every error the tool reports to the user without a traceback."""

    exit_code = 1


class InputError(CmfrError):
    """The input or the options are unusable: a missing file, an unknown size, a bad range."""

    exit_code = 2


class BitstreamError(CmfrError):
    """A container file is malformed: bad magic, truncation, CRC mismatch, absurd sizes.

    ``frame`` is the index of the frame record that failed, or ``None`` for the header and
    the seek index.
    """

    def __init__(self, message: str, frame: int | None = None):
        self.detail = message
        self.frame = frame
        where = "header" if frame is None else f"frame {frame}"
        super().__init__(f"bitstream error ({where}): {message}")


class ModelError(CmfrError):
    """No usable model: weights not installed, or not the weights a bitstream was made with."""
