"""Full or smoke mode, the one switch of every lesson's long runs.

Full mode is the default. `GAN_COURSE_SMOKE=1` (the test suite sets it through pytest-env) shrinks
every training loop and image set so that CI can run each lesson in a minute or two. The value is
read strictly: `GAN_COURSE_SMOKE=false` means full mode, and a value that is neither on nor off is
an error rather than a guess.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from reference.errors import UserError

__all__ = ["SMOKE_VARIABLE", "smoke_mode"]

SMOKE_VARIABLE = "GAN_COURSE_SMOKE"
ON = frozenset({"1", "true", "yes", "on"})
OFF = frozenset({"", "0", "false", "no", "off"})


def smoke_mode(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether $GAN_COURSE_SMOKE asks for smoke mode: True for 1/true/yes/on, False when unset or
    0/false/no/off (any case, spaces ignored); a UserError naming the value otherwise."""
    value = environ.get(SMOKE_VARIABLE, "")
    word = value.strip().lower()
    if word in ON:
        return True
    if word in OFF:
        return False
    raise UserError(
        f"{SMOKE_VARIABLE}={value!r} is neither on nor off: set it to 1 for smoke mode (shrunk runs, as CI uses) "
        f"or to 0 (or unset it) for full mode"
    )
