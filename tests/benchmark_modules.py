"""Load a script of ``benchmarks/`` as a module, the way the tests of the benchmarks do."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(script: str, module_name: str | None = None) -> ModuleType:
    """``benchmarks/SCRIPT.py`` as the module ``module_name`` (default: the script's name).

    The module is registered in ``sys.modules`` (dataclasses look their module up there) and
    ``benchmarks/`` is put on ``sys.path`` (scripts import their siblings, as when run from there).
    """
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(module_name or script, BENCHMARKS / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def tiny_weights(folder: Path) -> Path:
    """A randomly initialised ``tiny`` model (seed 0) saved as ``folder/tiny.{intra,inter}.cmfrw``; -> the stem."""
    import torch

    from cmfr_codec.training.trainer import new_codec
    from cmfr_codec.weights import save_weights

    torch.manual_seed(0)
    stem = folder / "tiny"
    save_weights(new_codec("tiny"), stem)
    return stem


def table_rows(output: str) -> list[str]:
    """The Markdown table rows a benchmark printed."""
    return [line for line in output.splitlines() if line.startswith("| ")]
