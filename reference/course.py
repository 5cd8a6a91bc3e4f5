"""Where the course lives: the one constant that names its GitHub repository, and the links built
from it that every lesson and assignment carries (the Colab badge, the setup cell, the figures).

Change `REPO` (and `BRANCH`) when the course is published under another name, then run
`python -m reference.lessons` to rewrite every notebook from them (and `nbgrader generate_assignment
<id> --force --no-db` for the assignments); `tests/test_lessons_sync.py` fails until they agree.
"""

from __future__ import annotations

__all__ = ["BRANCH", "REPO", "badge", "colab_url", "raw_url", "setup_source"]

REPO = "gan-course/gan-course"  # the course's GitHub repository, "owner/name"
BRANCH = "main"

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


def colab_url(path: str) -> str:
    """Colab's address for the notebook at `path` (relative to the repository root)."""
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{path}"


def raw_url(path: str) -> str:
    """The address of the file at `path` as GitHub serves it (figures shown from markdown)."""
    return f"https://raw.githubusercontent.com/{REPO}/{BRANCH}/{path}"


def badge(path: str) -> str:
    """The markdown of the "Open In Colab" badge for the notebook at `path`."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(path)})"


def setup_source() -> str:
    """The first code cell of every notebook: installs the course on Colab, does nothing elsewhere."""
    return (
        "# Setup: on Colab this installs the course (the `reference` library and its checks) and takes about a\n"
        '# minute; anywhere else it does nothing: install the course once with `pip install -e ".[lessons]"`.\n'
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/{REPO}@{BRANCH}"], check=True)'
    )
