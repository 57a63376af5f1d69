"""Latent refinement: what the encoder's ``slow`` preset adds.

The analysis transforms map a frame to its latent in one pass, and a trained codec's pass is
only an approximation of the latent that would cost least: the rate-distortion loss the
networks were trained on can be minimised again for each frame, over its latent alone, with
every network frozen (Campos et al. 2019, "Content adaptive optimization for neural image
compression"; Yang et al. 2020, "Improving inference for neural image compression")::

    y_0 = analysis(x)
    y_{k+1} = Adam step on  lambda_q * D(x, decode(y_k + u)) + R(y_k + u),  u ~ U(-1/2, 1/2) per element
    coded: round(y_K) through the usual compress path

``D`` and ``R`` are the training losses (YUV 6:1:1 MSE, the likelihoods of the latent and its
hyper-latent) at the stream's quality index, whose lambda the model was trained with.  The
I-frame refines the intra latent; each P-frame refines its frame latent given its decoded motion
and contexts (the motion latent as the encoder's networks chose it).  Only the encoder changes:
the refined latent is coded and decoded like any other, so a ``slow`` stream decodes with the
same ``cmfr decode`` to exactly the encoder's ``--recon``.

The refinement runs inside the coding paths' single torch thread (:func:`reproducible_inference`)
with a fixed noise seed, so the bytes do not depend on ``--threads``; it costs
:data:`REFINE_STEPS` passes of the decoder's networks forward and backward per frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cmfr_codec.models.analysis import shallow_copy
from cmfr_codec.models.codec import CmfrCodec
from cmfr_codec.models.layers import LUMA_PHASES
from cmfr_codec.training.losses import lambda_for, yuv_mse

REFINE_STEPS = 24
"""Adam steps per frame of the ``slow`` preset."""

REFINE_LEARNING_RATE = 0.02
"""Adam's step on the latent, in the latent's own units (its quantisation step is 1)."""

NOISE_SEED = 0
"""The quantisation noise is drawn from this seed for every frame: the same input, the same bytes."""

Objective = Callable[[torch.Tensor], torch.Tensor]


def refine_latent(y: torch.Tensor, objective: Objective, steps: int = REFINE_STEPS,
                  learning_rate: float = REFINE_LEARNING_RATE) -> torch.Tensor:
    """``y`` moved by ``steps`` Adam steps down ``objective(y)``; a new tensor, without autograd history.

    ``objective`` quantises with noise (the codecs' ``"noise"`` training path), drawn here from
    :data:`NOISE_SEED` without touching the caller's random state.
    """
    if steps == 0:
        return y
    latent = y.detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([latent], lr=learning_rate)
    devices = [y.device] if y.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.enable_grad():
        torch.manual_seed(NOISE_SEED)
        for _ in range(steps):
            loss = objective(latent)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    return latent.detach()


def refined_analysis(codec: CmfrCodec, quality_index: int, steps: int = REFINE_STEPS) -> CmfrCodec:
    """A codec that decodes exactly like ``codec`` but whose encoder refines each frame's latent
    (module docstring) for a stream of ``quality_index``.  ``codec`` itself is left as it is."""
    lambda_q = lambda_for(quality_index)
    refined = shallow_copy(codec)
    intra, inter = shallow_copy(codec.intra), shallow_copy(codec.inter)
    refined.intra, refined.inter = intra, inter

    def intra_analyse(x: torch.Tensor, quality: Any) -> torch.Tensor:
        height, width = x.shape[-2:]

        def objective(y: torch.Tensor) -> torch.Tensor:
            output = intra._from_latent(y, quality_index, "noise", height, width)
            return lambda_q * yuv_mse(output.x_hat, x) + output.bpp

        return refine_latent(codec.intra._analyse(x, quality), objective, steps)

    def inter_analyse(x: torch.Tensor, conditions: Any) -> torch.Tensor:
        latent_codec = inter.latent_codec
        quantisation_steps = latent_codec.encoder_steps(quality_index)

        def objective(scaled: torch.Tensor) -> torch.Tensor:
            # Refined in the quantiser's units (the codec divides y by the quality's step first),
            # so that the learning rate is in quantisation steps at every quality.
            latent, likelihoods = latent_codec(scaled * quantisation_steps, conditions.latent_prior, quality_index,
                                               "noise")
            x_hat = inter._reconstruct(latent, conditions).x_hat
            bits = -sum(values.log2().sum() for values in likelihoods.values())
            return lambda_q * yuv_mse(x_hat, x) + bits / (LUMA_PHASES * x.shape[-2] * x.shape[-1])

        scaled = refine_latent(codec.inter._analyse(x, conditions) / quantisation_steps, objective, steps)
        return scaled * quantisation_steps

    intra._analyse = intra_analyse
    inter._analyse = inter_analyse
    return refined

