"""How big and how costly a network is: parameters, and multiply-accumulates per call.

::

    module_fn(*inputs) --FlopCounterMode (torch's per-operator formulas)--> FLOPs --/ 2--> MACs

torch counts a multiply-accumulate of a convolution or matrix product as two FLOPs and ignores
element-wise work (activations, additions), which is the convention papers quote as MACs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(module: nn.Module) -> int:
    """Number of learned values (parameters, not buffers such as CDF tables)."""
    return sum(parameter.numel() for parameter in module.parameters())


def count_macs(module_fn: Callable[..., Any], inputs: Sequence[Any]) -> int:
    """Multiply-accumulates of one call ``module_fn(*inputs)``, run without gradients."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module_fn(*inputs)
    return counter.get_total_flops() // 2
