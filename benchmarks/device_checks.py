"""Every check that needs a GPU, run in one call of the device tool, and the CPU side of each.

    python benchmarks/device_checks.py prepare DIR [--no-wheels]   # here, on the CPU
    python benchmarks/device_checks.py run DIR OUT [--budget 480]  # on the lent GPU machine
    python benchmarks/device_checks.py verify OUT                  # here again

A lent GPU comes for a few minutes a session (the device tool's README), so what the open issues
ask of it is prepared here and run there as one command:

``prepare DIR`` encodes 10 frames of the example clip on the CPU (``DIR/cpu.bin`` and the encoder's
reconstruction ``DIR/cpu_recon.y4m``) and downloads into ``.whl/`` the wheels the GPU machine lacks
(Python 3.12 builds of PyAV, constriction, pytorch-msssim and bjontegaard; ``--no-wheels`` skips
that).  It prints the device call to make.

``run DIR OUT`` runs the checks in this order, each in its own process with a time limit, and
goes on after a failure; a check whose usual time no longer fits into ``--budget`` seconds is
skipped, so the call ends inside the device tool's limit with what it has:

=================  ====================================================================
environment        GPU, driver, torch and CUDA versions
cpu-stream         decode ``DIR/cpu.bin`` on the GPU; compare with the CPU encoder's recon
gpu-stream         encode on the GPU (``OUT/gpu.bin``, ``OUT/gpu_recon.y4m``); decode it there on
                   the GPU and on that machine's CPU; compare each with the recon
speed              ``benchmarks/speed.py --device cuda --write-docs`` (GPU block of
                   docs/performance.md, copied to ``OUT/performance.md``)
memory             ``benchmarks/memory.py --device cuda --write-docs`` (the same page)
train              ``cmfr train`` on a tiny prepared set on the GPU in bf16: intra, inter-rate resumed
                   from its checkpoint, densities, and one process under ``torchrun`` (NCCL); the
                   CSV logs to ``OUT/train.csv``
train-step         ``benchmarks/train_step.py --devices cuda``
profile            torch.profiler over a 1080p decode on the GPU: ``OUT/profile.txt``
tests              the test suite under that machine's torch (``pytest -n 8``)
=================  ====================================================================

Everything is logged to ``OUT/log.txt`` and tallied in ``OUT/summary.json``; at most 8 files come
back from the device tool, and ``run`` writes 7.  ``verify OUT`` then decodes ``OUT/gpu.bin`` here on
the CPU with two thread counts, compares with ``OUT/gpu_recon.y4m`` and prints the tally.

``--device cpu`` runs the same checks on the CPU and ``--quick`` shrinks them (tiny sizes, few
frames and steps): the tests use both to keep this script working between GPU sessions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
EXAMPLE = REPO / "examples" / "city_416x240_25fps.mkv"
WHEELS = REPO / ".whl"
FRAMES, QUALITY = 10, 40
WHEEL_REQUIREMENTS = ("av>=18,<19", "constriction==0.5.0", "pytorch-msssim==1.0.0", "bjontegaard==1.3.0")
WHEEL_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
CHECKS = ("environment", "cpu-stream", "gpu-stream", "speed", "memory", "train", "train-step", "profile", "tests")
USUAL_SECONDS = {"environment": 10, "cpu-stream": 30, "gpu-stream": 60, "speed": 150, "memory": 90, "train": 120,
                 "train-step": 60, "profile": 60, "tests": 150}
"""What each check is expected to take on the GPU machine: it is skipped when less than this is left."""


@dataclass
class Result:
    check: str
    state: str  # "ok", "failed" or "skipped"
    seconds: float = 0.0
    details: dict = field(default_factory=dict)


class CheckFailed(Exception):
    """A check's own verdict: its command ran, and what it showed is wrong."""


class Runner:
    """Runs commands for the checks, logging each with its output to ``log``, within a total budget."""

    def __init__(self, log: Path, budget: float, device: str, quick: bool) -> None:
        self.log = log
        self.deadline = time.monotonic() + budget
        self.device = device
        self.quick = quick

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def command(self, *arguments: object, timeout: float | None = None, cwd: Path = REPO) -> str:
        """Run ``arguments``, log it and its output, and return its stdout; raise on failure or timeout."""
        words = [str(argument) for argument in arguments]
        limit = max(1.0, min(timeout or self.left(), self.left()))
        with self.log.open("a") as log:
            log.write(f"$ {' '.join(words)}\n")
            log.flush()
            try:
                done = subprocess.run(words, cwd=cwd, capture_output=True, text=True, timeout=limit, check=False)
            except subprocess.TimeoutExpired as expired:
                log.write(f"(stopped after {limit:.0f} s)\n")
                raise CheckFailed(f"stopped after {limit:.0f} s: {' '.join(words[:5])} ...") from expired
            log.write(done.stdout + done.stderr + f"(exit {done.returncode})\n\n")
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}").splitlines()[-1]
            raise CheckFailed(last)
        return done.stdout

    def cmfr(self, *arguments: object, timeout: float | None = None) -> str:
        return self.command(sys.executable, "-m", "cmfr_codec", *arguments, timeout=timeout)

    def script(self, name: str, *arguments: object, timeout: float | None = None) -> str:
        return self.command(sys.executable, BENCHMARKS / f"{name}.py", *arguments, timeout=timeout)


def compare_videos(first: Path, second: Path) -> dict:
    """Samples, samples that differ and the largest difference between two decoded videos."""
    sys.path.insert(0, str(BENCHMARKS))
    from cross_backend import compare

    samples, differing, largest = compare(first, second)
    return {"samples": samples, "differing": differing, "largest": largest}


# The checks: each takes the runner, the prepared folder and OUT, and returns its details.


def check_environment(runner: Runner, prepared: Path, out: Path, scratch: Path) -> dict:
    import torch

    details = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
               "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
               "cpus": os.cpu_count()}
    if shutil.which("nvidia-smi"):
        details["nvidia-smi"] = runner.command("nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                               "--format=csv,noheader", timeout=30).strip()
    return details


def check_cpu_stream(runner: Runner, prepared: Path, out: Path, scratch: Path) -> dict:
    decoded = scratch / "cpu_on_device.y4m"
    runner.cmfr("decode", prepared / "cpu.bin", decoded, "--device", runner.device, timeout=120)
    return compare_videos(prepared / "cpu_recon.y4m", decoded)


def check_gpu_stream(runner: Runner, prepared: Path, out: Path, scratch: Path) -> dict:
    stream, recon = out / "gpu.bin", out / "gpu_recon.y4m"
    runner.cmfr("encode", EXAMPLE, stream, "--frames", FRAMES, "--quality", QUALITY, "--device", runner.device,
                "--recon", recon, timeout=180)
    details = {}
    for device in (runner.device, "cpu"):
        decoded = scratch / f"gpu_on_{device}.y4m"
        runner.cmfr("decode", stream, decoded, "--device", device, timeout=180)
        details[f"decoded on {device}"] = compare_videos(recon, decoded)
    same_device = details[f"decoded on {runner.device}"]
    if same_device["differing"]:
        raise CheckFailed(f"decoding on the encoder's device differs from its recon in {same_device['differing']} "
                          f"samples")
    return details


def write_docs(runner: Runner) -> list[str]:
    """``--write-docs`` for a real run; a quick run (the tests') leaves docs/performance.md alone."""
    return [] if runner.quick else ["--write-docs"]


def copy_docs(runner: Runner, out: Path) -> None:
    if not runner.quick:
        shutil.copy(REPO / "docs" / "performance.md", out / "performance.md")


def check_speed(runner: Runner, prepared: Path, out: Path, scratch: Path) -> dict:
    sizes = ["--sizes", "128x96", "--frames", "3", "--baselines", "x264"] if runner.quick else []
    models = "cmfr-s" if runner.quick else "cmfr-s,cmfr-base"
    output = runner.script("speed", "--device", runner.device, "--models", models, *sizes, *write_docs(runner),
                           timeout=600)
    copy_docs(runner, out)
    return {"table": output.strip().splitlines()[-4:]}


def check_memory(runner: Runner, prepared: Path, out: Path, scratch: Path) -> dict:
    sizes = ["--sizes", "128x96"] if runner.quick else []
    output = runner.script("memory", "--device", runner.device, *sizes, *write_docs(runner), timeout=600)
    copy_docs(runner, out)
    return {"table": output.strip().splitlines()[-5:]}


def check_train(runner: Runner, prepared: Path, out: Path, scratch: Path) -> dict:
    """bf16 stages on a tiny prepared set (intra, inter-rate resumed from its checkpoint, densities), and
    ``torchrun`` with one process."""
    data = tiny_prepared_set(runner, scratch)
    run = scratch / "run"
    common = ["--data", data, "--model-config", "tiny", "--batch", "2", "--crop", "64", "--workers", "1",
              "--device", runner.device, "--validate-every", "5", "--log-every", "1", "--validation-clips", "1"]
    runner.cmfr("train", "--stage", "intra", "--steps", "10", "--checkpoint-every", "5", "--output", run, *common,
                timeout=300)
    runner.cmfr("train", "--stage", "inter-rate", "--steps", "5", "--init", run / "intra" / "tiny.intra.cmfrw",
                "--output", run, *common, timeout=300)
    runner.cmfr("train", "--stage", "inter-rate", "--resume", run / "inter-rate" / "checkpoint.pt", "--steps", "8",
                "--output", run, *common, timeout=300)
    runner.cmfr("train", "--stage", "densities", "--steps", "5", "--frames", "3", "--init",
                run / "inter-rate" / "tiny.intra.cmfrw", "--output", run, *common, timeout=300)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1",
                "-m", "cmfr_codec", "train", "--stage", "intra", "--steps", "3", "--output", scratch / "ddp", *common]
    runner.command(*torchrun, timeout=300)
    logs = [run / "intra" / "train.csv", run / "inter-rate" / "train.csv", run / "densities" / "train.csv",
            scratch / "ddp" / "intra" / "train.csv"]
    with (out / "train.csv").open("w") as combined:
        for log in logs:
            combined.write(f"# {log.relative_to(scratch)}\n{log.read_text()}")
    return {"logs": [str(log.relative_to(scratch)) for log in logs]}


def tiny_prepared_set(runner: Runner, scratch: Path) -> Path:
    """The tests' prepared set (clips of the test video, a held-out copy, a still), made in ``scratch``."""
    program = (f"import sys; sys.path.insert(0, {str(REPO / 'tests')!r}); "
               f"from pathlib import Path; from training_data import make_prepared_set; "
               f"print(make_prepared_set(Path({str(scratch)!r})))")
    return Path(runner.command(sys.executable, "-c", program, timeout=120).strip().splitlines()[-1])


def check_train_step(runner: Runner, prepared: Path, out: Path, scratch: Path) -> dict:
    models = ["--models", "tiny", "--steps", "1", "--crop", "64", "--batch", "1"] if runner.quick else []
    output = runner.script("train_step", "--devices", runner.device, *models, timeout=300)
    return {"table": output.strip().splitlines()[-4:]}


PROFILE_PROGRAM = """
import sys, torch
from pathlib import Path
from torch.profiler import ProfilerActivity, profile
from cmfr_codec.bitstream import BitstreamReader
from cmfr_codec.pipeline import decode_video
from cmfr_codec.weights import find_weights, load_model
stream, output, device, report = sys.argv[1:5]
model = load_model(find_weights("cmfr-s"), device)
activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
with BitstreamReader(Path(stream)) as reader:
    decode_video(reader, Path(output), model)  # warm-up: lazy initialisation, kernel selection
with profile(activities=activities) as profiler, BitstreamReader(Path(stream)) as reader:
    decode_video(reader, Path(output), model)
if device == "cuda":
    torch.cuda.synchronize()
key = "device_time_total" if device == "cuda" else "cpu_time_total"
Path(report).write_text(profiler.key_averages().table(sort_by=key, row_limit=30))
"""


def check_profile(runner: Runner, prepared: Path, out: Path, scratch: Path) -> dict:
    width, height, frames = (128, 96, 2) if runner.quick else (1920, 1080, 4)
    source = scratch / f"profile_{width}x{height}_25.y4m"
    write_scaled_source(runner, source, width, height, frames)
    stream = scratch / "profile.bin"
    runner.cmfr("encode", source, stream, "--quality", QUALITY, "--device", runner.device, timeout=300)
    runner.command(sys.executable, "-c", PROFILE_PROGRAM, stream, scratch / "profile.yuv", runner.device,
                   out / "profile.txt", timeout=300)
    return {"report": "profile.txt", "size": f"{width}x{height}", "frames": frames}


def write_scaled_source(runner: Runner, path: Path, width: int, height: int, frames: int) -> None:
    """The first ``frames`` frames of the example clip scaled to ``width`` x ``height`` (speed.py's way), as .y4m."""
    program = (f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r}); from fractions import Fraction; "
               f"from pathlib import Path; from speed import clip_frames; "
               f"from cmfr_codec.io import VideoInfo, create_video_writer; "
               f"frames = clip_frames({width}, {height}, {frames}); "
               f"w = create_video_writer(Path({str(path)!r}), VideoInfo({width}, {height}, Fraction(25), {frames})); "
               f"[w.write(f) for f in frames]; w.close()")
    runner.command(sys.executable, "-c", program, timeout=120)


def check_tests(runner: Runner, prepared: Path, out: Path, scratch: Path) -> dict:
    output = runner.command(sys.executable, "-m", "pytest", "-q", "-n", "8", "-p", "no:cacheprovider",
                            timeout=runner.left() - 5)
    return {"tally": output.strip().splitlines()[-1]}


CHECK_FUNCTIONS = {"environment": check_environment, "cpu-stream": check_cpu_stream, "gpu-stream": check_gpu_stream,
                   "speed": check_speed, "memory": check_memory, "train": check_train,
                   "train-step": check_train_step, "profile": check_profile, "tests": check_tests}


def run_checks(prepared: Path, out: Path, budget: float, device: str, quick: bool,
               checks: tuple[str, ...] = CHECKS) -> list[Result]:
    out.mkdir(parents=True, exist_ok=True)
    runner = Runner(out / "log.txt", budget, device, quick)
    results = []
    with tempfile.TemporaryDirectory(prefix="cmfr-device-") as folder:
        for check in checks:
            if runner.left() < USUAL_SECONDS[check] * (0.1 if quick else 1):
                results.append(Result(check, "skipped", details={"reason": f"{runner.left():.0f} s left"}))
            else:
                scratch = Path(folder) / check
                scratch.mkdir()
                start = time.monotonic()
                try:
                    details = CHECK_FUNCTIONS[check](runner, prepared, out, scratch)
                    results.append(Result(check, "ok", time.monotonic() - start, details))
                except CheckFailed as failure:
                    results.append(Result(check, "failed", time.monotonic() - start, {"error": str(failure)}))
            print(f"{check}: {results[-1].state} ({results[-1].seconds:.0f} s)", flush=True)
            (out / "summary.json").write_text(json.dumps([asdict(result) for result in results], indent=1) + "\n")
    return results


# prepare and verify, here


def prepare(folder: Path, wheels: bool, runner: Runner) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    runner.cmfr("encode", EXAMPLE, folder / "cpu.bin", "--frames", FRAMES, "--quality", QUALITY, "--device", "cpu",
                "--recon", folder / "cpu_recon.y4m", timeout=300)
    if wheels:
        platforms = [word for name in WHEEL_PLATFORMS for word in ("--platform", name)]
        runner.command(sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                       "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", WHEELS,
                       *WHEEL_REQUIREMENTS, timeout=600)


def verify(out: Path, runner: Runner) -> dict:
    """Decode the GPU's stream here on the CPU, with one thread and with all, against the GPU encoder's recon."""
    details = {}
    with tempfile.TemporaryDirectory(prefix="cmfr-verify-") as folder:
        for threads in ("1", str(os.cpu_count() or 1)):
            decoded = Path(folder) / f"threads_{threads}.y4m"
            runner.cmfr("decode", out / "gpu.bin", decoded, "--device", "cpu", "--threads", threads, timeout=600)
            details[f"{threads} threads"] = compare_videos(out / "gpu_recon.y4m", decoded)
    return details


def print_summary(out: Path) -> None:
    summary = out / "summary.json"
    if not summary.exists():
        print(f"{summary}: none (the run did not start its checks)")
        return
    for result in json.loads(summary.read_text()):
        print(f"{result['check']:<12} {result['state']:<8} {result['seconds']:6.0f} s  {json.dumps(result['details'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_parser = commands.add_parser("prepare", help="here: the CPU stream, and the wheels in .whl/")
    prepare_parser.add_argument("folder", type=Path, metavar="DIR")
    prepare_parser.add_argument("--no-wheels", action="store_true", help="skip the wheel download (default: download)")
    run_parser = commands.add_parser("run", help="on the GPU machine: every check, into OUT")
    run_parser.add_argument("folder", type=Path, metavar="DIR")
    run_parser.add_argument("out", type=Path, metavar="OUT")
    run_parser.add_argument("--budget", type=float, default=480, help="seconds for all checks (default: 480)")
    run_parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="(default: cuda)")
    run_parser.add_argument("--quick", action="store_true", help="tiny sizes and few steps (default: off)")
    run_parser.add_argument("--checks", default=",".join(CHECKS), help=f"a subset of {','.join(CHECKS)} (default: all)")
    verify_parser = commands.add_parser("verify", help="here: decode the GPU's stream on the CPU; print the tally")
    verify_parser.add_argument("out", type=Path, metavar="OUT")
    arguments = parser.parse_args(argv)
    if arguments.command == "prepare":
        runner = Runner(Path(tempfile.gettempdir()) / "cmfr-device-prepare.log", 1200, "cpu", False)
        try:
            prepare(arguments.folder, not arguments.no_wheels, runner)
        except CheckFailed as failure:
            parser.exit(1, f"error: {failure} (log: {runner.log})\n")
        folder = arguments.folder.resolve()
        if not folder.is_relative_to(REPO):
            print(f"prepared {folder}: outside the repository, so the device tool cannot carry it")
            return 0
        folder = folder.relative_to(REPO)
        print(f"prepared {folder}; the device call, with carry {['.whl', str(folder)]}:\n"
              f"python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && "
              f"export PYTHONPATH=/tmp/site && python3 -m pip install -q --no-deps --no-build-isolation -e . && "
              f"PYTHONUNBUFFERED=1 python3 benchmarks/device_checks.py run {folder} $OUT --budget 480")
        return 0
    if arguments.command == "run":
        checks = tuple(check.strip() for check in arguments.checks.split(",") if check.strip())
        unknown = [check for check in checks if check not in CHECKS]
        if unknown:
            parser.error(f"--checks: unknown {unknown[0]!r}; choose from {', '.join(CHECKS)}")
        results = run_checks(arguments.folder, arguments.out, arguments.budget, arguments.device, arguments.quick,
                             checks)
        return 0 if all(result.state == "ok" for result in results) else 1
    runner = Runner(Path(tempfile.gettempdir()) / "cmfr-device-verify.log", 1200, "cpu", False)
    print_summary(arguments.out)
    try:
        details = verify(arguments.out, runner)
    except CheckFailed as failure:
        parser.exit(1, f"error: decoding {arguments.out / 'gpu.bin'} here failed: {failure}\n")
    print(f"{'verify':<12} {'ok':<8} {'':>8}  {json.dumps(details)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
