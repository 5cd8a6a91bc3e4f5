"""gan-course reference library: GAN models, losses, data and one trainer.

Lessons and assignments import from here instead of copying code::

    from reference.models import get_model
    from reference.losses import get_loss
    from reference.data import load_dataset
    from reference.trainer import TrainConfig, train

Importing `reference` before torch lets the course choose how PyTorch's CPU threads wait and how
many there are, so that training stays fast on a machine other jobs keep busy
(`reference/cpu.py` says how; GAN_COURSE_CPU=torch keeps PyTorch's defaults). Where the user's home folder
cannot hold matplotlib's or IPython's folders, it gives them lasting ones of their own, so that they do not warn at
every import (`reference.paths`; a user's MPLCONFIGDIR or IPYTHONDIR is never changed).
"""

from reference.cpu import prepare_openmp as _prepare_openmp
from reference.paths import prepare_ipython as _prepare_ipython
from reference.paths import prepare_matplotlib as _prepare_matplotlib

_prepare_openmp()
_prepare_matplotlib()
_prepare_ipython()

__version__ = "0.1.0"
