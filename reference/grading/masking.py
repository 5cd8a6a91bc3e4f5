"""Answers taken from the course library: the modules an assignment hides while it is graded.

A check module may set `MASKED = ("reference.losses", ...)`: those modules hold the answers (a1
asks for the losses and the Fréchet distance, a5 for WGAN-GP's), and the worker replaces them
with a stub when the assignment is graded, so an answer imported from them fails there. `Masked`
turns the failures that causes into one message that says to write the answer; in the student's
own kernel, where the library is whole, the checks trace the student's function instead
(`probes_a1.modules_run`) and say the same.

    MASK = Masked(*MASKED)
    fn = MASK.student(submission, "d_loss")    # AssertionError naming the masked module, if that is why it is missing
    MASK.covers("reference.losses")            # True
"""

from __future__ import annotations

import re

from reference.grading.checks import CheckFailure

__all__ = ["Masked", "not_own"]


def not_own(name: str, module: str, lead: str) -> str:
    """What a student reads when `name` is the course library's answer, not theirs."""
    return (
        f"{lead} {module}, the course library's own answer, which does not exist when your submission is graded, "
        f"so an answer taken from it scores 0: write {name} yourself from the formula"
    )


class Masked:
    """The masked modules of one assignment, and how a check recognises an answer taken from them."""

    def __init__(self, *modules: str) -> None:
        self.modules = modules

    def covers(self, module: str) -> bool:
        """`module` is one of the masked modules or inside one."""
        return any(module == m or module.startswith(m + ".") for m in self.modules)

    def named_in(self, text: str) -> str | None:
        """The masked module (or its package) that an error's text says is missing, else None."""
        names = re.findall(r"(reference(?:\.\w+)+) is not available while this assignment is graded", text)
        names += [f"{m}.{a}" for m, a in re.findall(r"module '(reference(?:\.\w+)*)' has no attribute '(\w+)'", text)]
        for name in names:
            if any(m == name or m.startswith(name + ".") for m in self.modules):
                return name
        return None

    def student(self, submission, name: str):
        """The student's function `name` (a handle when graded); AssertionError with `not_own`'s
        message when it is missing because its cell used a masked module."""
        try:
            return submission.get(name)
        except CheckFailure as err:
            module = self.named_in(str(err))
            if module is None:
                raise
            raise AssertionError(not_own(name, module, f"`{name}` is not defined when graded: the cell that defines it uses")) from None
