"""Options shared by several commands, named as video engineers expect them."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import click

from cmfr_codec.device import DEVICE_CHOICES
from cmfr_codec.errors import InputError
from cmfr_codec.hierarchy import DEFAULT_HIERARCHY_BOOST, DEFAULT_HIERARCHY_PERIOD
from cmfr_codec.presets import DEFAULT_PRESET, PRESETS
from cmfr_codec.weights import DEFAULT_MODEL

QUALITY_RANGE = click.IntRange(0, 63)
DEFAULT_QUALITY = 32
DEFAULT_INTRA_PERIOD = 32


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    from cmfr_codec.io import parse_size

    if value is None:
        return None
    try:
        return parse_size(value)
    except InputError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None


def _fps(ctx: click.Context, param: click.Parameter, value: str | None) -> Fraction | None:
    from cmfr_codec.io import parse_fps

    if value is None:
        return None
    try:
        return parse_fps(value)
    except InputError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None


def _compose(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def apply(function: Any) -> Any:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


input_selection = _compose(
    click.option(
        "--size",
        metavar="WxH",
        callback=_size,
        help="Frame size of raw .yuv input, e.g. 1920x1080 (default: parsed from the file name, "
        "as in Name_1920x1080_50.yuv).",
    ),
    click.option(
        "--fps",
        metavar="RATE",
        callback=_fps,
        help="Frame rate, e.g. 25, 29.97 or 30000/1001 (default: the input's own; for raw .yuv "
        "from the file name, else 30).",
    ),
    click.option(
        "--frames",
        type=click.IntRange(min=1),
        default=None,
        metavar="N",
        help="Process at most N frames (default: all).",
    ),
    click.option(
        "--skip",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        metavar="N",
        help="Skip the first N frames of the input.",
    ),
)

def _threads(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    from cmfr_codec.models.stripes import set_worker_count

    set_worker_count(value)
    return value


threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    callback=_threads,
    expose_value=False,
    help="CPU threads the networks share (default: CMFR_THREADS if set, else every core). "
    "The output is the same, bit for bit, with any N.",
)

def preset_option(name: str) -> Callable[[Any], Any]:
    """The encoder preset option, ``--preset`` for ``cmfr encode`` and ``--cmfr-preset`` for ``cmfr eval``."""
    return click.option(
        name,
        "cmfr_preset",
        type=click.Choice(PRESETS),
        default=DEFAULT_PRESET,
        show_default=True,
        help="cmfr encoder speed: medium runs every network in float32; slow also refines each frame's latent "
        "with gradient steps (fewer bits, better pictures, many times slower); fast runs the encoder-only networks "
        "in bfloat16 where the device has it natively and estimates motion at half resolution (docs/performance.md, "
        "'Encoder presets'). Any preset's stream decodes the same way.",
    )


def hierarchy_options(prefix: str) -> Callable[[Any], Any]:
    """The quality hierarchy's two options: ``--hierarchy-*`` for ``cmfr encode``, ``--cmfr-hierarchy-*`` for
    ``cmfr eval`` (``prefix`` is ``--`` or ``--cmfr-``)."""
    return _compose(
        click.option(
            f"{prefix}hierarchy-period",
            "hierarchy_period",
            type=click.IntRange(min=1),
            default=DEFAULT_HIERARCHY_PERIOD,
            show_default=True,
            metavar="N",
            help=f"Code each I-frame and every Nth P-frame after it {prefix}hierarchy-boost quality indices above "
            "the requested one, the P-frames between them at it: better pictures for the same bits "
            "(docs/models.md, 'The quality hierarchy'). 1 codes every frame at the requested quality.",
        ),
        click.option(
            f"{prefix}hierarchy-boost",
            "hierarchy_boost",
            type=click.IntRange(0, 63),
            default=DEFAULT_HIERARCHY_BOOST,
            show_default=True,
            metavar="B",
            help=f"How many quality indices above the requested one the {prefix}hierarchy-period frames are coded "
            "(never above 63; 0 codes every frame at the requested quality).",
        ),
    )


device_option = click.option(
    "--device",
    type=click.Choice(DEVICE_CHOICES),
    default="auto",
    show_default=True,
    help="Where the networks run: auto picks CUDA when a GPU is usable, else the CPU.",
)

model_selection = _compose(
    click.option(
        "--model",
        default=DEFAULT_MODEL,
        show_default=True,
        metavar="NAME|PATH",
        help="Installed model name, or path to a .cmfrw weights file.",
    ),
    device_option,
)
