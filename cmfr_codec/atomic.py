"""Output files that appear whole or not at all.

Every file the tool writes goes to a temporary name in the destination's folder and is
renamed over the destination only when the writer finished without error.  A failure, a
Ctrl-C or a SIGTERM (the CLI turns it into ``SystemExit``) removes the temporary file, so a
failed run never leaves a half-written output behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType


class AtomicOutput:
    """A temporary path beside ``path`` that becomes ``path`` on :meth:`commit`.

    Use as a context manager: leaving the block normally commits, leaving it through an
    exception discards.  The temporary name keeps the destination's extension, so tools
    that pick a format from the name (PyAV) see the right one.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            from cmfr_codec.errors import InputError

            raise InputError(f"output folder does not exist: {folder}")
        handle, temporary = tempfile.mkstemp(
            prefix=f".{self.path.stem}.tmp-", suffix=self.path.suffix, dir=folder
        )
        os.close(handle)
        # mkstemp makes the file private (0600); give the output the permissions any new file gets.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        self.temporary_path = Path(temporary)
        self._done = False

    def commit(self) -> None:
        if self._done:
            return
        os.replace(self.temporary_path, self.path)
        self._done = True

    def discard(self) -> None:
        if self._done:
            return
        self.temporary_path.unlink(missing_ok=True)
        self._done = True

    def __enter__(self) -> AtomicOutput:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()
