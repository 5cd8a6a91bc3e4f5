"""gan-course reference library: GAN models, losses, data and one trainer.

Lessons and assignments import from here instead of copying code::

    from reference.models import get_model
    from reference.losses import get_loss
    from reference.data import load_dataset
    from reference.trainer import TrainConfig, train

Importing `reference` before torch lets the course choose how PyTorch's CPU threads wait and how
many there are, so that training stays fast on a machine other jobs keep busy
(`reference/cpu.py` says how; GAN_COURSE_CPU=torch keeps PyTorch's defaults).
"""

from reference.cpu import prepare_openmp as _prepare_openmp

_prepare_openmp()

__version__ = "0.1.0"
