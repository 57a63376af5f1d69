"""Which convolutions give thread-count-dependent results, under each arithmetic mode.

    python benchmarks/thread_determinism.py [--threads 1,2]

For a few convolution shapes (large and tiny inputs), runs the same convolution in child
processes with each thread count and compares output hashes, in three modes: torch's defaults
(oneDNN on), oneDNN off with ``MKL_CBWR=AVX2,STRICT``, and cmfr's coding mode
(``reproducible_inference``: that plus one thread). Prints one row per shape and mode:
"same" when every thread count gave identical bits.  This is the measurement behind
docs/determinism.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

SHAPES = (
    # (in channels, out channels, kernel, height, width)
    (32, 64, 3, 136, 240),
    (32, 6, 3, 136, 240),
    (32, 8, 1, 136, 240),
    (16, 12, 3, 4, 4),
    (16, 8, 3, 7, 4),
)
MODES = ("default", "no-onednn+cbwr", "cmfr-coding")

CHILD = """
import hashlib, os, sys
mode = sys.argv[2]
if mode != "default":
    os.environ["MKL_CBWR"] = "AVX2,STRICT"
import torch
from cmfr_codec.determinism import reproducible_inference
torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
hashes = []
for cin, cout, k, h, w in eval(sys.argv[3]):
    conv = torch.nn.Conv2d(cin, cout, k, padding=k // 2)
    x = torch.randn(1, cin, h, w)
    if mode == "cmfr-coding":
        with reproducible_inference():
            y = conv(x)
    else:
        torch.backends.mkldnn.enabled = mode == "default"
        with torch.no_grad():
            y = conv(x)
    hashes.append(hashlib.sha256(y.numpy().tobytes()).hexdigest()[:12])
print(" ".join(hashes))
"""


def hashes(threads: int, mode: str) -> list[str]:
    environment = {key: value for key, value in os.environ.items() if key != "MKL_CBWR"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(threads), mode, repr(SHAPES)], env=environment,
                          capture_output=True, text=True, check=True)
    return done.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,2")
    arguments = parser.parse_args()
    counts = [int(value) for value in arguments.threads.split(",")]
    print(f"thread counts compared: {counts}; cpus={os.cpu_count()}")
    print(f"| conv (in, out, kernel, h, w) | {' | '.join(MODES)} |")
    print("|---|" + "---|" * len(MODES))
    results = {mode: [hashes(count, mode) for count in counts] for mode in MODES}
    for index, shape in enumerate(SHAPES):
        cells = ["same" if len({run[index] for run in results[mode]}) == 1 else "DIFFERS" for mode in MODES]
        print(f"| {shape} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
