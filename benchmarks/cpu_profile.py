"""Where a CPU encode and decode spend their time: per network, and how much of it runs on one thread.

    python benchmarks/cpu_profile.py [--size 832x480] [--frames 10] [--preset medium|fast] [--model cmfr-s]

Codes ``--frames`` frames of the example clip scaled to ``--size`` (one I-frame, then P-frames) with
the real pipeline (``encode_video`` / ``decode_video``, no ``--recon``) after an untimed two-frame
warm-up, and prints per frame:

- the wall time of encode and of decode;
- the part spent inside row stripes (``run_stripes``: the calling thread and the pool workers
  share the cores), and the rest, which runs on the calling thread alone while the other cores
  wait: the exact integer networks, small convolutions, entropy coding, conversions;
- the part spent in the exact integer networks (``IntegerNetwork.coding``);
- the wall time of each network of the P-frame codec, from module hooks (mean over the P-frames).

The hooks and the timers cost a little; the frame rates to quote are ``benchmarks/speed.py``'s.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import clip_frames, write_source  # noqa: E402

from cmfr_codec.bitstream import BitstreamReader  # noqa: E402
from cmfr_codec.io import open_video, parse_size  # noqa: E402
from cmfr_codec.models import integer, stripes  # noqa: E402
from cmfr_codec.pipeline import decode_video, encode_video, is_intra  # noqa: E402
from cmfr_codec.presets import PRESETS  # noqa: E402
from cmfr_codec.weights import find_weights, load_model  # noqa: E402

WARM_UP_FRAMES = 2
INTRA_PERIOD = 32


class Clocks:
    """Seconds inside ``run_stripes``, inside the integer networks, and per P-frame network."""

    def __init__(self) -> None:
        self.stripes = 0.0
        self.integer = 0.0
        self.networks: collections.Counter[str] = collections.Counter()
        self.counting = False

    def reset(self) -> None:
        self.stripes = self.integer = 0.0
        self.networks.clear()

    def install(self, inter_codec) -> None:
        run_stripes, coding = stripes.run_stripes, integer.IntegerNetwork.coding

        def timed_stripes(tasks):
            started = time.perf_counter()
            try:
                return run_stripes(tasks)
            finally:
                self.stripes += time.perf_counter() - started

        def timed_coding(network, inputs):
            started = time.perf_counter()
            try:
                return coding(network, inputs)
            finally:
                self.integer += time.perf_counter() - started

        stripes.run_stripes = timed_stripes
        integer.IntegerNetwork.coding = timed_coding
        starts: dict[str, float] = {}

        def top_level() -> bool:
            # Networks the codec calls itself, not those a row stripe runs inside a block
            # (striping is off inside a stripe, on every thread).
            return getattr(stripes._state, "active", False)

        def begin(_module, _inputs, name: str) -> None:
            if top_level():
                starts[name] = time.perf_counter()

        def end(_module, _inputs, _output, name: str) -> None:
            if top_level():
                self.networks.update({name: time.perf_counter() - starts.pop(name)})

        for name, module in inter_codec.named_children():
            module.register_forward_pre_hook(lambda module, inputs, name=name: begin(module, inputs, name))
            module.register_forward_hook(lambda module, inputs, output, name=name: end(module, inputs, output, name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="832x480", help="WxH (default 832x480)")
    parser.add_argument("--frames", type=int, default=10, help="frames coded (default 10)")
    parser.add_argument("--preset", choices=PRESETS, default="medium", help="encoder preset (default medium)")
    parser.add_argument("--model", default="cmfr-s", help="installed name or weights file (default cmfr-s)")
    arguments = parser.parse_args(argv)
    width, height = parse_size(arguments.size)
    model = load_model(find_weights(arguments.model))
    clocks = Clocks()
    clocks.install(model.codec.inter)
    predicted = sum(not is_intra(number, INTRA_PERIOD) for number in range(arguments.frames))
    with tempfile.TemporaryDirectory(prefix="cmfr-profile-") as folder:
        source = write_source(Path(folder), clip_frames(width, height, arguments.frames))
        bitstream, decoded = Path(folder) / "coded.bin", Path(folder) / "decoded.yuv"
        rows = []
        for task in ("encode", "decode"):
            def run(frames: int | None, task: str = task) -> None:
                if task == "encode":
                    with open_video(source, frames=frames) as reader:
                        encode_video(reader, bitstream, model, 32, INTRA_PERIOD, preset=arguments.preset)
                else:
                    with BitstreamReader(bitstream) as reader:
                        decode_video(reader, decoded, model)

            if task == "encode":
                run(WARM_UP_FRAMES)
            clocks.reset()
            started = time.perf_counter()
            run(None)
            total = time.perf_counter() - started
            rows.append((task, total, dict(clocks.networks), clocks.stripes, clocks.integer))
    frames = arguments.frames
    print(f"{model.name}, {width}x{height}, {frames} frames (1 I-frame), preset {arguments.preset}, "
          f"{stripes.worker_count()} threads; ms per frame")
    print("| task | wall | in stripes (all cores) | one thread | of which integer networks |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for task, total, _, in_stripes, in_integer in rows:
        print(f"| {task} | {1000 * total / frames:.0f} | {1000 * in_stripes / frames:.0f} | "
              f"{1000 * (total - in_stripes) / frames:.0f} | {1000 * in_integer / frames:.0f} |")
    print(f"\nP-frame networks, ms per P-frame ({predicted} P-frames)")
    print("| network | encode | decode |\n| --- | ---: | ---: |")
    encode_networks, decode_networks = rows[0][2], rows[1][2]
    for name in sorted(encode_networks, key=lambda key: -encode_networks[key]):
        decode = f"{1000 * decode_networks[name] / predicted:.1f}" if name in decode_networks else "-"
        print(f"| {name} | {1000 * encode_networks[name] / predicted:.1f} | {decode} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
