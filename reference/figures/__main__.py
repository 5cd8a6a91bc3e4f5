"""`python -m reference.figures [LESSON ...]`: regenerate the lessons' figures (see __init__)."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a script: files only

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "lessons" / "figures"
LESSONS = (1, 2, 3, 4, 5, 6, 7, 8)

README_HEAD = """# Lesson figures

Made by `python -m reference.figures` (this file too: edit the captions in `reference/figures/lesson_NN.py`). Each lesson's
markdown cells show these (the instructors' sources with `![caption](../../lessons/figures/NAME.png)`,
the student versions with the file's raw GitHub address, so that they show on Colab too),
so a reader sees them without running anything; running the lesson redraws them live.
"""


def write_captions(readme: Path, updated: dict[int, dict[str, str]]) -> None:
    """Rewrite README.md with the captions of `updated` lessons, keeping other lessons' sections."""
    sections: dict[int, str] = {}
    if readme.exists():
        number, lines = None, []
        for line in readme.read_text(encoding="utf-8").splitlines():
            if line.startswith("## Lesson "):
                if number is not None:
                    sections[number] = "\n".join(lines).strip()
                number, lines = int(line.split()[2]), [line]
            elif number is not None:
                lines.append(line)
        if number is not None:
            sections[number] = "\n".join(lines).strip()
    for number, captions in updated.items():
        body = "\n".join(f"- `{name}`: {caption}" for name, caption in captions.items())
        sections[number] = f"## Lesson {number:02d}\n\n{body}"
    readme.write_text(README_HEAD + "".join(f"\n{sections[n]}\n" for n in sorted(sections)))




def main(argv: list[str]) -> int:
    try:
        chosen = [int(a) for a in argv] or list(LESSONS)
    except ValueError:
        print(f"usage: python -m reference.figures [LESSON ...], lessons: {list(LESSONS)}", file=sys.stderr)
        return 2
    missing = [n for n in chosen if n not in LESSONS]
    if missing:
        print(f"error: no figures for lesson {missing[0]}; lessons with figures: {list(LESSONS)}", file=sys.stderr)
        return 2
    if not (ROOT / "lessons").is_dir():
        print(f"error: {ROOT / 'lessons'} does not exist; run this from a checkout of the course", file=sys.stderr)
        return 2
    FIGURES.mkdir(exist_ok=True)
    updated = {}
    for number in chosen:
        start = time.perf_counter()
        updated[number] = getattr(importlib.import_module(f"reference.figures.lesson_{number:02d}"), f"lesson_{number:02d}")(FIGURES)
        print(f"lesson {number:02d}: {', '.join(updated[number])} ({time.perf_counter() - start:.1f} s)")
    write_captions(FIGURES / "README.md", updated)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
