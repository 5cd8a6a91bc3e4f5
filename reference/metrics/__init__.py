"""Metrics for generative models, computed from feature or logit tensors.

Feature extractors (Inception, classifiers) live elsewhere; everything here takes their outputs
and works in float64:
- `fid`, `FrechetStats`, `frechet_distance`: Fréchet Inception Distance (Heusel et al. 2017);
- `kid`: Kernel Inception Distance (Bińkowski et al. 2018);
- `inception_score`: Inception Score (Salimans et al. 2016);
- `precision_recall`: improved precision and recall (Kynkäänniemi et al. 2019);
- `mifid`, `memorization_distance`: memorization-informed FID (Kaggle Generative Dog Images);
- `mode_coverage`, `class_coverage`: modes and classes reproduced (VEEGAN, PacGAN).
"""

from reference.metrics.checks import MetricError
from reference.metrics.coverage import class_coverage, mode_coverage, reverse_kl
from reference.metrics.fid import FrechetStats, SmallSampleWarning, fid, frechet_distance
from reference.metrics.inception_score import inception_score
from reference.metrics.kid import kid, mmd2_unbiased, polynomial_kernel
from reference.metrics.mifid import MIFID_EPSILON, memorization_distance, mifid
from reference.metrics.precision_recall import inside_manifold, knn_radii, precision_recall

__all__ = [
    "MetricError",
    "FrechetStats",
    "SmallSampleWarning",
    "frechet_distance",
    "fid",
    "kid",
    "mmd2_unbiased",
    "polynomial_kernel",
    "inception_score",
    "precision_recall",
    "knn_radii",
    "inside_manifold",
    "MIFID_EPSILON",
    "memorization_distance",
    "mifid",
    "mode_coverage",
    "class_coverage",
    "reverse_kl",
]
