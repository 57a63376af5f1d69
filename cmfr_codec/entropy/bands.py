"""Row bands: a large latent coded as several independent ANS streams, coded in parallel processes.

constriction holds the GIL while it codes, so threads cannot share the work; processes can.  A
latent's quadtree steps (each a ``(1, C, H, W)`` subset) are cut into ``count`` bands of whole
rows (:func:`band_rows`); band ``k`` of every step goes onto its own ANS stack, so the bands code
and decode independently (the decoder's step networks still run once per step on the whole
latent, between the bands' pops).  Band 0 also carries the hyper-latent (pushed by the caller).
With ``--threads N``, the calling process codes the first run of consecutive bands (band 0's
included) and ``N - 1`` worker processes the other runs.  The bytes depend only on the band count,
never on who coded them.  The encoder may leave the workers' bands coding while its next frame's
networks run (:func:`deferred_band_coding`).

The count is the encoder's choice, bounded by :func:`band_limit` of the step's height: one band
per :data:`SYMBOLS_PER_BAND` nonzero symbols (:func:`band_count`), so that a band's fixed cost
(its ANS tail and container directory entry, about 8 bytes) stays small beside what it codes and
small frames keep a single stream.  docs/entropy.md ("Row bands") specifies the layout.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np

from cmfr_codec.entropy.ans import AnsCoder, coder_bytes, finish_decoding, new_coder, open_coder
from cmfr_codec.errors import BitstreamError, CmfrError

MAX_BANDS = 8
"""Most bands per latent."""

MIN_BAND_ROWS = 4
"""Fewest rows of a quadtree step's subset per band (8 latent rows, 128 luma rows for the CMFR
latents at 1/16 of luma)."""

SYMBOLS_PER_BAND = 4096
"""Nonzero symbols per band the encoder asks for before it adds a band."""


def band_limit(rows: int) -> int:
    """Most bands a step subset of ``rows`` rows may be cut into (at least 1)."""
    return max(1, min(MAX_BANDS, rows // MIN_BAND_ROWS))


def band_count(rows: int, nonzero_symbols: int) -> int:
    """The encoder's choice: one band per :data:`SYMBOLS_PER_BAND` nonzero symbols, within the limit."""
    return max(1, min(band_limit(rows), nonzero_symbols // SYMBOLS_PER_BAND))


def band_rows(rows: int, count: int) -> list[slice]:
    """Band ``k`` covers rows ``k * rows // count`` to ``(k + 1) * rows // count`` (exclusive)."""
    return [slice(band * rows // count, (band + 1) * rows // count) for band in range(count)]


def band_stream_name(stream: str, band: int) -> str:
    """Sub-stream name of band ``band``: band 0 keeps the latent's name, band k is ``NAME_k``."""
    return stream if band == 0 else f"{stream}_{band}"


def band_stream_names(stream: str, rows: int) -> list[str]:
    """Every name a latent of ``rows`` step rows may write (the container's name table needs them)."""
    return [band_stream_name(stream, band) for band in range(band_limit(rows))]


def coded_band_count(streams: dict[str, bytes], stream: str, rows: int) -> int:
    """How many bands a record holds for ``stream``: its ``NAME_k`` sub-streams must run 1, 2, ... without gaps."""
    if stream not in streams:
        raise BitstreamError(f"sub-stream '{stream}' is missing")
    count = 1
    while band_stream_name(stream, count) in streams:
        count += 1
    limit = band_limit(rows)
    extra = [name for name in streams if name.startswith(f"{stream}_") and name[len(stream) + 1:].isdecimal()]
    if count > limit or len(extra) != count - 1:
        raise BitstreamError(f"sub-streams {sorted(extra)} of '{stream}' are not bands 1..{min(count, limit) - 1} "
                             f"of at most {limit}")
    return count


@dataclass(frozen=True)
class StepBand:
    """One quadtree step's share of a band: the symbols' coder and its integers, rows of one band."""

    distribution: str
    skip_below_index: int
    symbols: np.ndarray
    indices: np.ndarray


def push_band(steps: Sequence[StepBand]) -> bytes:
    """One band's stream: its share of every step, pushed last step first (the decoder pops step 0 first)."""
    coder = new_coder()
    for step in reversed(steps):
        _coder(step.distribution).push(coder, step.symbols, step.indices, step.skip_below_index)
    return coder_bytes(coder)


def pop_band_step(data: bytes, distribution: str, skip_below_index: int,
                  indices: np.ndarray) -> tuple[np.ndarray, bytes] | str:
    """Pop one step's share from a band's remaining ``data``: (symbols, what remains), or an error text.

    The coder's state travels as its remaining words: a stack's remainder after a pop is exactly
    what pushing the later steps alone gives, so it reopens as a stream of its own (and pushing
    onto a reopened stream continues it exactly; tests/test_entropy_bands.py checks both).
    """
    try:
        coder = open_coder(data)
        symbols = _coder(distribution).pop(coder, indices, skip_below_index)
        return symbols, coder_bytes(coder)
    except BitstreamError as error:
        return error.detail


def encode_bands(bands: Sequence[Sequence[StepBand]], workers: int) -> list[bytes | Answer]:
    """Every band's stream, coded by ``workers`` processes: this one and ``workers - 1`` worker
    processes, each taking a run of consecutive bands (this one the first, with band 0).

    Inside :func:`deferred_band_coding` the worker processes' bands come back as :class:`Answer` s
    (:func:`band_bytes` waits for one), so the caller's next network step overlaps their coding.
    """
    local, remote = _share(len(bands), workers)
    answers = _workers(workers).run(push_band, [(bands[band],) for band in remote]) if remote else []
    data: list[bytes | Answer] = [push_band(bands[band]) for band in local]
    if not getattr(_deferring, "active", False):
        return data + [answer.result() for answer in answers]
    return data + answers


def band_bytes(band: bytes | Answer) -> bytes:
    """A band's bytes, waiting for its worker process if it is still coding it."""
    return band.result() if isinstance(band, Answer) else band


@contextlib.contextmanager
def deferred_band_coding() -> Iterator[None]:
    """Within this block (on this thread), :func:`encode_bands` leaves worker processes' bands pending."""
    previous = getattr(_deferring, "active", False)
    _deferring.active = True
    try:
        yield
    finally:
        _deferring.active = previous


_deferring = threading.local()


class BandDecoder:
    """Pops one latent's bands step by step, shared between this process and ``workers - 1`` worker
    processes as :func:`encode_bands` shares them.

    ``first`` is band 0's coder, already past the hyper-latent the caller popped from it.  Bands
    decoded here keep their coders; a worker process gets a band's remaining bytes with each step
    and sends back the symbols and what remains.
    """

    def __init__(self, first: AnsCoder, others: Sequence[bytes], workers: int):
        self._workers = workers
        local, self._remote = _share(1 + len(others), workers)
        self._coders = [first, *(open_coder(others[band - 1]) for band in local[1:])]
        self._remaining = [others[band - 1] for band in self._remote]

    def pop(self, distribution: str, skip_below_index: int, indices: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One step: each band's symbols, given its rows of the step's table indices."""
        answers = []
        if self._remote:
            calls = [(data, distribution, skip_below_index, _compact(indices[band]))
                     for data, band in zip(self._remaining, self._remote, strict=True)]
            answers = _workers(self._workers).run(pop_band_step, calls)
        coder = _coder(distribution)
        symbols = [coder.pop(band_coder, band_indices, skip_below_index)
                   for band_coder, band_indices in zip(self._coders, indices, strict=False)]
        for position, answer in enumerate(answers):
            outcome = answer.result()
            if isinstance(outcome, str):
                raise BitstreamError(outcome)
            values, self._remaining[position] = outcome
            symbols.append(values)
        return symbols

    def finish(self) -> None:
        """Insist that every band was consumed exactly."""
        for coder in self._coders:
            finish_decoding(coder)
        for data in self._remaining:
            if data:
                raise BitstreamError(f"entropy-coded data has {len(data) // 4} word(s) left after decoding")


def _share(count: int, workers: int) -> tuple[list[int], list[int]]:
    """Bands coded here and bands for worker processes: the first of :func:`_runs`' runs here."""
    _, local = _runs(count, workers)[0]
    return list(range(local)), list(range(local, count))


def _compact(indices: np.ndarray) -> np.ndarray:
    """Scale-table indices (0..63) as bytes, an eighth of what int64 would send to a worker."""
    return indices.astype(np.uint8)


_coders: dict[str, object] = {}


def _coder(distribution: str):
    from cmfr_codec.entropy.conditional import ConditionalCoder

    if distribution not in _coders:
        _coders[distribution] = ConditionalCoder(distribution)
    return _coders[distribution]


class Answer:
    """One call's result from a worker process, read from its socket when first asked for."""

    def __init__(self, batch: _Batch, position: int):
        self._batch, self._position = batch, position

    def result(self) -> object:
        return self._batch.results()[self._position]


class _Batch:
    """The calls sent to one worker process in one message, and their results once read."""

    def __init__(self, pool: _WorkerPool, worker: int):
        self.pool, self.worker = pool, worker
        self.values: list | None = None

    def results(self) -> list:
        while self.values is None:
            self.pool.receive(self.worker)
        return self.values


class _WorkerPool:
    """Worker processes, each serving one socket: a message is a function and a list of argument
    tuples, the answer the list of results.

    constriction holds the GIL, so messages are sent from the calling thread (a feeder thread
    would wait for the GIL behind the caller's own coding).  A worker gets at most one message at
    a time: before another is sent, its last answer is read, so neither side can block the other
    on a full socket buffer.
    """

    def __init__(self, processes: int):
        self.connections, self.processes, self.pending = [], [], []
        for _ in range(processes):
            ours, theirs = socket.socketpair()
            # A fresh interpreter that imports this module only: neither a fork of a process running
            # torch's threads (which can deadlock) nor multiprocessing's spawn (which re-runs the
            # caller's main script, so a script without a __main__ guard would fail).
            command = [sys.executable, "-c", f"from {__name__} import serve; serve({theirs.fileno()})"]
            process = subprocess.Popen(command, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_child_environment())
            theirs.close()
            self.connections.append(Connection(ours.detach()))
            self.processes.append(process)
            self.pending.append(None)

    def run(self, function, calls: list[tuple]) -> list[Answer]:
        """Send ``calls`` to the workers in runs of consecutive calls, one message per worker."""
        answers = []
        for worker, (start, stop) in enumerate(_runs(len(calls), len(self.connections))):
            if self.pending[worker] is not None:
                self.pending[worker].results()
            batch = _Batch(self, worker)
            self._send(worker, (function, calls[start:stop]))
            self.pending[worker] = batch
            answers.extend(Answer(batch, position) for position in range(stop - start))
        return answers

    def receive(self, worker: int) -> None:
        try:
            succeeded, values = self.connections[worker].recv()
        except (EOFError, OSError):
            raise CmfrError("an entropy-coding worker process stopped unexpectedly") from None
        batch, self.pending[worker] = self.pending[worker], None
        if not succeeded:
            raise RuntimeError(f"entropy-coding worker process failed: {values}")
        batch.values = values

    def _send(self, worker: int, message: tuple) -> None:
        try:
            self.connections[worker].send(message)
        except (BrokenPipeError, OSError):
            raise CmfrError("an entropy-coding worker process stopped unexpectedly") from None

    def close(self) -> None:
        for connection in self.connections:
            connection.close()
        for process in self.processes:
            try:
                process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _child_environment() -> dict[str, str]:
    """The worker's environment: this one, with this interpreter's import path (so the package is
    found also when it runs from a source tree that is not installed)."""
    paths = [path for path in sys.path if path]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _runs(count: int, parts: int) -> list[tuple[int, int]]:
    """``count`` items in at most ``parts`` runs of consecutive items, as equal as can be (empty runs left out)."""
    bounds = [part * count // parts for part in range(parts + 1)]
    return [(start, stop) for start, stop in zip(bounds, bounds[1:], strict=False) if stop > start]


def serve(descriptor: int) -> None:
    """A worker process: answer the messages on the socket ``descriptor`` until the parent closes it."""
    connection = Connection(descriptor)
    # Ctrl-C reaches every process of the terminal's group: the parent stops the run (one line, no
    # partial file) and closes the sockets; a worker printing its own traceback would only add noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            function, calls = connection.recv()
        except (EOFError, OSError):
            return
        try:
            connection.send((True, [function(*arguments) for arguments in calls]))
        except Exception as error:  # a bug, reported to the parent rather than hanging it
            connection.send((False, f"{type(error).__name__}: {error}"))


_pool: list[_WorkerPool] = []


def _workers(workers: int) -> _WorkerPool:
    """The lasting pool of ``workers - 1`` worker processes (this process is the first worker)."""
    if _pool and len(_pool[0].connections) != workers - 1:
        _pool.pop().close()
    if not _pool:
        _pool.append(_WorkerPool(workers - 1))
    return _pool[0]


@atexit.register
def _shut_down() -> None:
    while _pool:
        _pool.pop().close()
