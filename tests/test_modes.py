"""GAN_COURSE_SMOKE is read in one place, strictly: `reference.modes.smoke_mode`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reference.errors import UserError
from reference.modes import smoke_mode

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value", ["1", "true", "TRUE", " yes ", "on"])
def test_on_values_mean_smoke_mode(value):
    assert smoke_mode({"GAN_COURSE_SMOKE": value}) is True


@pytest.mark.parametrize("value", ["0", "false", "False", "no", "off", "", "  "])
def test_off_values_and_unset_mean_full_mode(value):
    assert smoke_mode({"GAN_COURSE_SMOKE": value}) is False
    assert smoke_mode({}) is False


@pytest.mark.parametrize("value", ["maybe", "2", "-1", "yes please"])
def test_other_values_are_named_with_the_fix(value):
    with pytest.raises(UserError) as caught:
        smoke_mode({"GAN_COURSE_SMOKE": value})
    message = str(caught.value)
    assert f"GAN_COURSE_SMOKE={value!r}" in message and "set it to 1" in message and "\n" not in message


def _notebooks() -> list[Path]:
    return sorted((ROOT / "solutions").rglob("*.ipynb")) + sorted((ROOT / "lessons").glob("*.ipynb")) + sorted((ROOT / "assignments").rglob("*.ipynb"))


READS = re.compile(r"""(environ(\.get)?|getenv)\s*[\[(]\s*["']GAN_COURSE_SMOKE""")


def test_every_notebook_takes_its_mode_from_smoke_mode():
    """A notebook that parsed the variable itself once took GAN_COURSE_SMOKE=false for smoke mode."""
    readers, setters = set(), set()
    for path in _notebooks():
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] != "code":
                continue
            if READS.search(source):
                readers.add(path.relative_to(ROOT).as_posix())
            if re.search(r"^SMOKE\s*=", source, re.M) and "SMOKE = smoke_mode()" not in source:
                setters.add(path.relative_to(ROOT).as_posix())
    assert not readers, f"these notebooks read GAN_COURSE_SMOKE themselves: {sorted(readers)}"
    assert not setters, f"these notebooks set SMOKE without smoke_mode(): {sorted(setters)}"
