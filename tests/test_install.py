"""The lean install: the README's main job needs `pip install -e .`, not the `[dev]` extra.

The test runs `gan-course train` in a fresh interpreter in which every package that only the
`[dev]` extra brings (pytest, nbval, nbgrader, Jupyter's kernel and notebook libraries) fails
to import, so a module of the main job that imported one of them would fail here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reference.config import tomllib  # tomllib from Python 3.11, tomli (a dependency there) on 3.10

REPO = Path(__file__).resolve().parents[1]
DEV_ONLY = ("pytest", "_pytest", "xdist", "pytest_env", "nbval", "nbgrader", "nbclient", "nbformat", "nbconvert",
            "IPython", "ipykernel", "jupyter_client", "jupyterlab", "notebook")  # fmt: skip

BLOCKED_MAIN = """
import importlib.abc, sys
DEV_ONLY = {dev_only!r}

class DevOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in DEV_ONLY:
            raise ImportError(f"{{name}} comes with the [dev] extra only")
        return None

sys.meta_path.insert(0, DevOnly())
from reference.cli import main
code = main(["train", "--epochs", "1", "--max-images", "64", "--device", "cpu", "--no-progress", "--out", {out!r}])
print("imported dev-only:", sorted(m for m in sys.modules if m.split(".")[0] in DEV_ONLY))
sys.exit(code)
"""


def test_the_main_job_imports_nothing_from_the_dev_extra(tmp_path):
    code = BLOCKED_MAIN.format(dev_only=DEV_ONLY, out=str(tmp_path / "run"))
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, f"gan-course train needed a [dev] package:\n{done.stderr[-3000:]}"
    assert "imported dev-only: []" in done.stdout
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()


def test_the_dev_only_packages_are_not_main_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    main = {dep.split(">")[0].split("=")[0].split(";")[0].split("[")[0].strip().lower() for dep in project["dependencies"]}
    for name in ("pytest", "nbval", "nbgrader", "nbclient", "nbformat", "ipykernel", "jupyterlab"):
        assert name not in main, f"{name} is a main dependency; the main job must install without the [dev] extra"
    assert "nbgrader" in " ".join(project["optional-dependencies"]["dev"]), "the [dev] extra should bring nbgrader"


# modules of the standard library newer than the oldest Python pyproject.toml allows (3.10), by module
NEWER_STDLIB = {"tomllib": "3.11 (use `from reference.config import tomllib`, tomli on 3.10)"}


def test_every_file_parses_and_imports_on_the_oldest_python_allowed():
    """requires-python is >=3.10: no syntax newer than 3.10 and no unguarded import of a newer stdlib
    module (tests/test_install.py itself imported tomllib, so `pytest` on Python 3.10 stopped at collection)."""
    import ast

    assert tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"] == ">=3.10"
    problems = []
    files = [REPO / "conftest.py", *(p for folder in ("reference", "tests", "benchmarks") for p in (REPO / folder).rglob("*.py"))]
    for path in files:
        rel = path.relative_to(REPO)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 10))
        except SyntaxError as err:
            problems.append(f"{rel}:{err.lineno}: syntax newer than Python 3.10 ({err.msg})")
            continue
        guards = [t.body for t in ast.walk(tree) if isinstance(t, ast.Try)]  # try: import ... except ImportError:
        guards += [t.body for t in ast.walk(tree) if isinstance(t, ast.If) and "version_info" in ast.unparse(t.test)]
        guarded = {id(n) for body in guards for s in body for n in ast.walk(s)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                if name.split(".")[0] in NEWER_STDLIB and id(node) not in guarded:
                    problems.append(f"{rel}:{node.lineno}: imports {name}, new in Python {NEWER_STDLIB[name.split('.')[0]]}")
    assert not problems, "; ".join(problems)
