"""Convolutions on every CPU core with results that do not depend on how many there are.

Coding must give the same floats whatever the thread count (:mod:`cmfr_codec.determinism`), so
torch runs each coding call on one thread.  To use more cores anyway, a convolution is cut into
*row stripes* of its output, a fixed partition that depends only on the shapes::

    output rows  0 .. 31 | 32 .. 63 | 64 .. 95 | ...        STRIPE_ROWS each (the last may be shorter)
    input rows   the rows each stripe's kernels reach (its halo), zero-padded only at the frame's edges

Each stripe is an ordinary one-thread convolution of its input rows, and a pool of workers, each
on one torch thread, computes the stripes in any order and writes them into one output.  The
result is the same convolution (no seams: every output row sees exactly the inputs it would see
in one call), and its bits are the same with 1 worker or 16, because the stripes, not the
workers, decide how the work is cut.  Small convolutions (fewer than :data:`MIN_PARALLEL_ROWS`
output rows, e.g. on latents) run as one stripe.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import is_in_torch_dispatch_mode

from cmfr_codec.errors import InputError

STRIPE_ROWS = 32
"""Output rows per stripe: fixed, so the partition (and with it every bit) depends only on shapes."""

MIN_PARALLEL_ROWS = 2 * STRIPE_ROWS
"""Convolutions with fewer output rows run as one call: too little work to share."""

_state = threading.local()
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_workers = 0
_requested_workers: int | None = None


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_worker_count(count: int | None) -> None:
    """Use ``count`` workers from now on (``--threads``); ``None``: back to ``CMFR_THREADS`` / every core.

    The results do not depend on it: only the speed does.
    """
    global _requested_workers
    if count is not None and count < 1:
        raise InputError(f"the thread count must be a positive integer, got {count}")
    _requested_workers = count


def worker_count() -> int:
    """Workers the striped convolutions use: :func:`set_worker_count`'s, else ``CMFR_THREADS`` if set,
    else every available core."""
    if _requested_workers is not None:
        return _requested_workers
    requested = os.environ.get("CMFR_THREADS", "").strip()
    if requested:
        try:
            count = int(requested)
        except ValueError:
            raise InputError(f"CMFR_THREADS must be a positive integer, got {requested!r}") from None
        if count < 1:
            raise InputError(f"CMFR_THREADS must be a positive integer, got {requested!r}")
        return count
    return available_cores()


def striped_convolutions() -> contextlib.AbstractContextManager[None]:
    """Within this block (on this thread), CPU convolutions of the CMFR layers run in stripes."""
    return _striping(True)


@contextlib.contextmanager
def _striping(on: bool) -> Iterator[None]:
    previous = getattr(_state, "active", False)
    _state.active = on
    try:
        yield
    finally:
        _state.active = previous


def active(x: torch.Tensor) -> bool:
    """Whether a convolution of ``x`` should run striped: inside :func:`striped_convolutions`,
    on the CPU, one picture, no autograd, no autocast, no torch dispatch mode such as
    ``FlopCounterMode`` (all are per thread: the workers would not see them)."""
    return (getattr(_state, "active", False) and x.device.type == "cpu" and x.dim() == 4
            and x.shape[0] == 1 and not torch.is_grad_enabled() and not torch.is_autocast_enabled("cpu")
            and not is_in_torch_dispatch_mode())


def stripes(rows: int) -> list[tuple[int, int]]:
    """The fixed partition of ``rows`` output rows: ``[(first, end), ...]``."""
    if rows < MIN_PARALLEL_ROWS:
        return [(0, rows)]
    return [(first, min(first + STRIPE_ROWS, rows)) for first in range(0, rows, STRIPE_ROWS)]


def _one_thread_worker() -> None:
    torch.set_num_threads(1)


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers != workers:
            if _pool is not None:
                _pool.shutdown(wait=True)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cmfr-stripe",
                                       initializer=_one_thread_worker)
            _pool_workers = workers
        return _pool


def run_stripes(tasks: list[Callable[[], None]]) -> None:
    """Run ``tasks`` (independent, each writing its own part of an output) on the calling thread and
    ``worker_count() - 1`` pool workers, each taking the next task until none is left.

    Which thread runs a task never changes its result: every task is the same one-thread computation
    of a fixed stripe, and none stripes again (striping is off while the calling thread runs one).
    """
    threads = worker_count()
    workers = min(threads, len(tasks))
    if workers == 1:
        for task in tasks:
            task()
        return
    remaining = iter(tasks)
    lock = threading.Lock()

    def drain() -> None:
        while True:
            with lock:
                task = next(remaining, None)
            if task is None:
                return
            task()

    helpers = [_executor(threads - 1).submit(_without_autograd, drain) for _ in range(workers - 1)]
    try:
        with _striping(False):
            drain()
    except BaseException:
        with lock:  # the helpers stop after their current task
            for _ in remaining:
                pass
        raise
    finally:
        for helper in helpers:
            helper.exception()  # waits; a helper's own error is re-raised below
    for helper in helpers:
        helper.result()


def _without_autograd(task: Callable[[], None]) -> None:
    # Autograd mode is per thread: the caller's torch.no_grad() does not reach the workers.
    with torch.no_grad():
        task()


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` in the coding layout (a copy only where an operation such as ``cat`` of mixed layouts,
    ``grid_sample`` or ``new_zeros`` handed on a planar tensor): stripes of it are then contiguous."""
    return x.contiguous(memory_format=torch.channels_last)


def _output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: tuple[int, int],
           padding: tuple[int, int], dilation: tuple[int, int], groups: int) -> torch.Tensor:
    """``F.conv2d`` (zero padding) computed as row stripes on the worker pool; see the module docstring."""
    x = channels_last(x)
    height, width = x.shape[-2:]
    kernel_rows, kernel_columns = weight.shape[-2:]
    rows = _output_size(height, kernel_rows, stride[0], padding[0], dilation[0])
    parts = stripes(rows)
    if len(parts) == 1:
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)
    columns = _output_size(width, kernel_columns, stride[1], padding[1], dilation[1])
    out = torch.empty((x.shape[0], weight.shape[0], rows, columns), dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last)
    reach = dilation[0] * (kernel_rows - 1)

    def stripe(first: int, end: int) -> Callable[[], None]:
        def compute() -> None:
            # Input rows the stripe reads: first row of output `first` .. last row of output `end - 1`;
            # the start is aligned to the stride so that stripe output j is frame output `first + j`.
            top = max(0, first * stride[0] - padding[0])
            top -= top % stride[0]
            bottom = min(height, (end - 1) * stride[0] - padding[0] + reach + 1)
            piece = F.conv2d(x[:, :, top:bottom], weight, bias, stride, padding, dilation, groups)
            offset = first - top // stride[0]
            out[:, :, first:end].copy_(piece[:, :, offset:offset + end - first])
        return compute

    run_stripes([stripe(first, end) for first, end in parts])
    return out


def rowwise(block: Callable[..., torch.Tensor], inputs: tuple[torch.Tensor, ...], reach: int, out_channels: int,
            align: int = 1, with_offset: bool = False, up: int = 1, down: int = 1) -> torch.Tensor:
    """``block(*inputs)`` for a local block whose outputs see at most ``reach`` *input* rows either
    side, computed in row stripes of its output on the worker pool.

    Each stripe runs the *whole* block (convolutions, activations, skips) on its rows of every
    input plus ``reach`` rows of halo, and keeps its own rows, whose inputs are then all real: no
    seams, and the block's inner tensors exist only a stripe at a time, small enough to stay in
    cache.  The block may change the number of rows by ``up / down`` (a sub-pixel x2 up-sampling
    or a stride-2 down-sampling); the first input row of a stripe is then a multiple of ``down``,
    and of ``align`` too (for strides inside the block).  ``with_offset``: the block is called as
    ``block(first_input_row, *slices)``, for blocks that need to know where their rows lie in the
    frame (warping with absolute coordinates).  Inputs are taken channels-last, the coding layout.
    """
    inputs = tuple(channels_last(tensor) for tensor in inputs)
    rows = inputs[0].shape[-2]
    out_rows = -(-rows // down) * up
    parts = stripes(out_rows)
    if len(parts) == 1:
        return block(0, *inputs) if with_offset else block(*inputs)
    columns = -(-inputs[0].shape[-1] // down) * up
    out = torch.empty((inputs[0].shape[0], out_channels, out_rows, columns), dtype=inputs[0].dtype,
                      device=inputs[0].device, memory_format=torch.channels_last)
    step = math.lcm(align, down)

    def stripe(first: int, end: int) -> Callable[[], None]:
        def compute() -> None:
            top = max(0, first * down // up - reach)
            top -= top % step
            bottom = min(rows, -(-end * down // up) + reach)
            pieces = tuple(tensor[:, :, top:bottom] for tensor in inputs)
            piece = block(top, *pieces) if with_offset else block(*pieces)
            offset = first - top // down * up
            out[:, :, first:end].copy_(piece[:, :, offset:offset + end - first])
        return compute

    run_stripes([stripe(first, end) for first, end in parts])
    return out


def pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """A stride-1 1x1 convolution of ``x`` (1, C_in, H, W) as one matrix product per stripe of the
    channels-last tensor, written straight into the channels-last output; ``weight`` is (C_out, C_in)."""
    x = channels_last(x)
    rows, columns = x.shape[-2:]
    out = torch.empty((1, weight.shape[0], rows, columns), dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last)
    pixels_in, pixels_out = x.permute(0, 2, 3, 1), out.permute(0, 2, 3, 1)

    def stripe(first: int, end: int) -> Callable[[], None]:
        def compute() -> None:
            source = pixels_in[0, first:end].reshape(-1, weight.shape[1])
            target = pixels_out[0, first:end].view(-1, weight.shape[0])
            if bias is None:
                torch.mm(source, weight.t(), out=target)
            else:
                torch.addmm(bias, source, weight.t(), out=target)
        return compute

    run_stripes([stripe(first, end) for first, end in stripes(rows)])
    return out
