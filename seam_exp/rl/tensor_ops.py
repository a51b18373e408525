"""Masked tensor statistics and finiteness checks shared by the RL math (see seam_exp.rl.advantages for
the `[B, T]` response layout they assume).

Nothing here touches models or optimizers, so every function is testable with hand-built tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class NonFiniteLossError(FloatingPointError):
    """A loss or statistic became NaN/inf; raised early so a diverged run stops with a clear message."""


def check_finite(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """Raise :class:`NonFiniteLossError` if ``tensor`` holds NaN or inf; return it unchanged otherwise."""
    t = tensor.detach()
    finite = torch.isfinite(t)
    if bool(finite.all()):
        return tensor
    n_nan = int(torch.isnan(t).sum())
    n_inf = int(torch.isinf(t).sum())
    raise NonFiniteLossError(
        f"{name} is not finite: {n_nan} NaN and {n_inf} inf among {t.numel()} values (shape {tuple(t.shape)})"
    )


# --------------------------------------------------------------------------------- masked statistics


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``x`` over True entries of ``mask`` (whole tensor, or along ``dim``).

    Padded entries are selected away with ``where`` rather than multiplied by 0, so NaN/inf garbage at
    padded positions cannot leak into the result. An all-False mask gives NaN (0 / 0), which
    :func:`check_finite` then reports, rather than a silent 0.
    """
    mask = mask.bool()
    x0 = torch.where(mask, x, torch.zeros((), dtype=x.dtype, device=x.device))
    if dim is None:
        return x0.sum() / mask.sum()
    return x0.sum(dim=dim) / mask.sum(dim=dim)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of ``x`` over the True entries of ``mask`` (Bessel-corrected if ``unbiased``)."""
    mask = mask.bool()
    n = int(mask.sum())
    if n == 0:
        raise ValueError("masked_var: the mask selects no element")
    if unbiased and n == 1:
        raise ValueError("masked_var: unbiased variance needs at least 2 elements, the mask selects 1")
    centered = x - masked_mean(x, mask)
    var = masked_mean(centered**2, mask)
    return var * (n / (n - 1)) if unbiased else var


def masked_whiten(
    x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """Scale ``x`` to unit (unbiased) variance over the mask, and to zero mean if ``shift_mean``.

    ``shift_mean=False`` keeps the original mean (used for rewards, whose sign carries meaning).
    Padded positions are set to 0 in the output, so they never depend on padded inputs.
    """
    mask = mask.bool()
    mean = masked_mean(x, mask)
    var = masked_var(x, mask, unbiased=True)
    whitened = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        whitened = whitened + mean
    return torch.where(mask, whitened, torch.zeros((), dtype=whitened.dtype, device=whitened.device))


def entropy_from_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean over tokens of the entropy of ``softmax(logits)``; ``logits [B, T, V]``, ``mask [B, T]``."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    logp = F.log_softmax(logits, dim=-1)
    p = logp.exp()
    # Masked-out vocabulary entries (logit -inf) have p = 0 and contribute 0, not 0 * -inf = NaN.
    entropy = -torch.where(p > 0, p * logp, torch.zeros((), dtype=p.dtype, device=p.device)).sum(dim=-1)
    return masked_mean(entropy, mask)
