"""gan-course reference library: GAN models, losses, data and one trainer.

Lessons and assignments import from here instead of copying code::

    from reference.models import get_model
    from reference.losses import get_loss
    from reference.data import load_dataset
    from reference.trainer import TrainConfig, train
"""

__version__ = "0.1.0"
