"""GAN losses, computed from the discriminator's raw logits (D ends without a sigmoid).

Every loss takes D's outputs before any sigmoid, so the logistic losses can use
``softplus`` (``-log sigmoid(x) = softplus(-x)``) and stay finite, with finite
gradients, for logits of +-100 in float32.

- ``minimax``: the saturating game of Goodfellow et al. 2014, "Generative Adversarial
  Nets". G minimises ``log(1 - D(G(z)))``, whose gradient vanishes when D wins.
- ``non-saturating``: the same paper's practical fix. G maximises ``log D(G(z))``
  instead, which gives strong gradients early in training.
- ``least-squares``: LSGAN, Mao et al. 2017, "Least Squares Generative Adversarial
  Networks", with targets a=0 (fake), b=1 (real), c=1 (what G wants).
- ``wgan``: Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN". A critic estimates the
  Wasserstein-1 distance; clipping its weights to [-c, c] after each step keeps it Lipschitz.
- ``wgan-gp``: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs". A
  critic estimates the Wasserstein-1 distance; a gradient penalty keeps it 1-Lipschitz.
- ``hinge``: Lim & Ye 2017, "Geometric GAN", as used by SAGAN and BigGAN.

- ``log-sigmoid``: the non-saturating game written by hand from binary cross-entropy's formula,
  ``-(y log(sigmoid(x)) + (1 - y) log(1 - sigmoid(x)))``. Lesson 08's clinic trains it to show
  why not: in float32 ``sigmoid(x)`` is exactly 1 for x > 17 and 0 for x below about -88, the log is then
  -inf, times a zero label NaN, and an inf loss's gradient NaN. Never train with it.

Use ``get_loss(name, **options)`` to build one by name, e.g. ``get_loss("wgan-gp",
lambda_gp=10.0)``. A trainer calls ``d_loss`` (plus ``penalty`` when it is not None)
``n_critic`` times per ``g_loss`` step, ``after_d_step(D)`` after each D update, and logs
``d_prob`` as ``D(x)`` and ``D(G(z))``. The logistic losses take ``smoothing`` = s: one-sided
label smoothing (Salimans et al. 2016), D's target for real images is 1 - s instead of 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor


from reference.errors import UserError

__all__ = [
    "GANLoss",
    "Minimax",
    "NonSaturating",
    "LeastSquares",
    "WGAN",
    "WGANGP",
    "Hinge",
    "LogSigmoid",
    "LOSSES",
    "LossError",
    "get_loss",
]


class LossError(UserError, ValueError):
    """A loss name or option that the user gave is not valid."""


@dataclass
class GANLoss:
    """Base class: a pair of objectives for D and G computed from D's raw logits.

    Shapes: ``real`` is D(x) with shape (N,) and ``fake`` is D(G(z)) with shape (N,)
    (any shape works; every loss is a mean over all elements). Losses return scalars.
    """

    name: ClassVar[str] = "base"
    n_critic: int = 1  # D steps per G step

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """Discriminator (critic) loss. real, fake: logits (N,). Returns a scalar."""
        raise NotImplementedError

    def g_loss(self, fake: Tensor) -> Tensor:
        """Generator loss. fake: logits D(G(z)) of shape (N,). Returns a scalar."""
        raise NotImplementedError

    def penalty(
        self, D: Callable[[Tensor], Tensor], real_x: Tensor, fake_x: Tensor
    ) -> Tensor | None:
        """Extra term added to the D loss (WGAN-GP's gradient penalty); None if none."""
        return None

    def after_d_step(self, D: torch.nn.Module) -> None:
        """Called after each D update (WGAN clips D's weights here); nothing by default."""

    def d_prob(self, logits: Tensor) -> Tensor:
        """What to log as D(x) or D(G(z)): sigmoid(logits) for logistic losses.

        logits: (N,). Returns (N,); the caller takes the mean.
        """
        return torch.sigmoid(logits)


@dataclass
class Minimax(GANLoss):
    """The original saturating game (Goodfellow et al. 2014).

    d_loss = mean(-log D(x) - log(1 - D(G(z)))) = mean(softplus(-real) + softplus(fake))
    g_loss = mean(log(1 - D(G(z))))             = mean(-softplus(fake))
    with D(.) = sigmoid(logit). G minimises g_loss; its gradient -sigmoid(fake) vanishes
    as D(G(z)) -> 0, i.e. exactly when D confidently rejects the fakes.
    """

    name: ClassVar[str] = "minimax"
    smoothing: float = 0.0  # one-sided label smoothing: D's target for real images is 1 - smoothing

    def __post_init__(self) -> None:
        if not 0.0 <= self.smoothing < 1.0:
            raise LossError(f"label smoothing must be in [0, 1) (e.g. 0.1), got {self.smoothing!r}")

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        if self.smoothing:  # cross-entropy with target 1 - s: (1 - s) softplus(-real) + s softplus(real)
            s = self.smoothing
            return ((1 - s) * F.softplus(-real) + s * F.softplus(real)).mean() + F.softplus(fake).mean()
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -F.softplus(fake).mean()


@dataclass
class NonSaturating(Minimax):
    """The non-saturating heuristic (Goodfellow et al. 2014, section 3).

    d_loss = mean(softplus(-real) + softplus(fake))   (as in minimax)
    g_loss = mean(-log D(G(z))) = mean(softplus(-fake))
    Its gradient -sigmoid(-fake) is close to -1 when D(G(z)) -> 0.
    """

    name: ClassVar[str] = "non-saturating"

    def g_loss(self, fake: Tensor) -> Tensor:
        return F.softplus(-fake).mean()


@dataclass
class LeastSquares(GANLoss):
    """LSGAN (Mao et al. 2017) with targets a=0 (fake), b=1 (real), c=1 (G's target).

    d_loss = 0.5 * mean((real - 1)^2) + 0.5 * mean(fake^2)
    g_loss = 0.5 * mean((fake - 1)^2)
    D outputs raw scores, so d_prob logs them unchanged.
    """

    name: ClassVar[str] = "least-squares"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return 0.5 * (fake - 1).pow(2).mean()

    def d_prob(self, logits: Tensor) -> Tensor:
        return logits


@dataclass
class WGAN(GANLoss):
    """The original WGAN (Arjovsky et al. 2017): a critic whose weights are clipped.

    d_loss = mean(fake) - mean(real)      (the critic maximises mean(real) - mean(fake), an estimate
                                           of W(p_data, p_g) up to the Lipschitz constant K)
    g_loss = -mean(fake)
    after each critic step every parameter of D is clamped to [-clip, clip]. The paper's settings:
    clip = 0.01, n_critic = 5, RMSprop with lr 5e-5 (`--optimizer rmsprop --lr 5e-5`).
    """

    name: ClassVar[str] = "wgan"
    n_critic: int = 5
    clip: float = 0.01

    def __post_init__(self) -> None:
        if not self.clip > 0:
            raise LossError(f"the weight clip of wgan must be > 0 (e.g. 0.01), got {self.clip!r}")

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()

    @torch.no_grad()
    def after_d_step(self, D: torch.nn.Module) -> None:
        for p in D.parameters():
            p.clamp_(-self.clip, self.clip)

    def d_prob(self, logits: Tensor) -> Tensor:
        return logits


@dataclass
class WGANGP(GANLoss):
    """WGAN with gradient penalty (Gulrajani et al. 2017).

    d_loss  = mean(fake) - mean(real)
    penalty = lambda_gp * mean((||grad_xhat D(xhat)||_2 - 1)^2),
              xhat = eps * x + (1 - eps) * G(z),  eps ~ U(0, 1) per sample
    g_loss  = -mean(fake)
    Defaults follow the paper: lambda_gp = 10 and n_critic = 5 critic steps per G step.
    """

    name: ClassVar[str] = "wgan-gp"
    n_critic: int = 5
    lambda_gp: float = 10.0

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()

    def penalty(
        self, D: Callable[[Tensor], Tensor], real_x: Tensor, fake_x: Tensor
    ) -> Tensor:
        """Gradient penalty on random interpolates between real and fake samples.

        real_x, fake_x: (N, ...) e.g. images (N, C, H, W) or points (N, 2).
        Returns a scalar that carries gradients to D's parameters (not to G).
        Always computed in float32, even when called inside autocast.
        """
        device_type = real_x.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            real_x = real_x.detach().float()
            fake_x = fake_x.detach().float()
            eps_shape = (real_x.shape[0],) + (1,) * (real_x.dim() - 1)
            eps = torch.rand(eps_shape, device=real_x.device)
            x_hat = (eps * real_x + (1 - eps) * fake_x).requires_grad_(True)
            scores = D(x_hat).float()
            (grad,) = torch.autograd.grad(
                outputs=scores,
                inputs=x_hat,
                grad_outputs=torch.ones_like(scores),
                create_graph=True,
            )
            grad = grad.reshape(grad.shape[0], -1)
            # The 1e-12 keeps the gradient of the norm finite where grad == 0.
            grad_norm = torch.sqrt(grad.pow(2).sum(dim=1) + 1e-12)
            return self.lambda_gp * (grad_norm - 1).pow(2).mean()

    def d_prob(self, logits: Tensor) -> Tensor:
        return logits


@dataclass
class Hinge(GANLoss):
    """Hinge loss (Lim & Ye 2017; SAGAN, BigGAN).

    d_loss = mean(relu(1 - real)) + mean(relu(1 + fake))
    g_loss = -mean(fake)
    """

    name: ClassVar[str] = "hinge"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()

    def d_prob(self, logits: Tensor) -> Tensor:
        return logits


@dataclass
class LogSigmoid(NonSaturating):
    """The non-saturating game written by hand from binary cross-entropy's formula, through
    sigmoid then log (lesson 08's NaN).

    d_loss = mean(-(y log(sigmoid(real)) + (1 - y) log(1 - sigmoid(real)))) + mean(-log(1 - sigmoid(fake)))
             with the real label y = 1 - smoothing (1 by default, so the second term is 0 * log(...))
    g_loss = mean(-log(sigmoid(fake)))
    Mathematically NonSaturating; numerically not. In float32 sigmoid(x) rounds to 1 for x > 17
    and to 0 for x below about -88, and log gives -inf there: for a confident real logit the label term
    is 0 * -inf = NaN at once; for a fake logit past 17 (or below about -88 in g_loss) the loss is inf
    and its gradient NaN (inf * 0). One NaN step spreads to every weight.
    """

    name: ClassVar[str] = "log-sigmoid"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        s = self.smoothing
        d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
        return (-(1 - s) * torch.log(d_real) - s * torch.log(1 - d_real)).mean() - torch.log(1 - d_fake).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -torch.log(torch.sigmoid(fake)).mean()


LOSSES: dict[str, type[GANLoss]] = {
    cls.name: cls for cls in (Minimax, NonSaturating, LeastSquares, WGAN, WGANGP, Hinge, LogSigmoid)
}


def get_loss(name: str, **kwargs: float) -> GANLoss:
    """Build a loss by name, e.g. ``get_loss("wgan-gp", lambda_gp=10.0, n_critic=5)``.

    Names are case-insensitive and "_" counts as "-" ("wgan_gp" works).
    Raises LossError for an unknown name or an option the loss does not take.
    """
    key = name.strip().lower().replace("_", "-")
    if key not in LOSSES:
        raise LossError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
    cls = LOSSES[key]
    options = {f.name for f in fields(cls)}
    bad = sorted(set(kwargs) - options)
    if bad:
        raise LossError(
            f"loss {key!r} takes no option {bad[0]!r}; "
            f"its options are: {', '.join(sorted(options))}"
        )
    return cls(**kwargs)
