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
from typing import Self


class PublishOnSuccess:
    """The context-manager protocol of everything that writes an output file.

    Leaving the ``with`` block normally calls :meth:`close`, which publishes the file;
    leaving it through an exception (Ctrl-C and SIGTERM included) calls :meth:`abort`,
    which throws the partial file away.
    """

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class AtomicOutput(PublishOnSuccess):
    """A temporary path beside ``path`` that becomes ``path`` on :meth:`close`.

    The temporary name keeps the destination's extension, so tools that pick a format from
    the name (PyAV) see the right one.
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

    def close(self) -> None:
        """Publish: rename the temporary file over the destination."""
        if self._done:
            return
        os.replace(self.temporary_path, self.path)
        self._done = True

    def abort(self) -> None:
        """Discard: remove the temporary file; the destination is untouched."""
        if self._done:
            return
        self.temporary_path.unlink(missing_ok=True)
        self._done = True
