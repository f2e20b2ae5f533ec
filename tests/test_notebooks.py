"""The notebooks in notebooks/ run from top to bottom, and are committed without outputs.

Each notebook is copied into a temporary directory and executed there with nbclient (a fresh kernel, a time
limit per cell), so running the tests writes nothing into the repository. The kernel inherits
``CSNLP_CACHE_DIR`` from the test session (tests/conftest.py), so the default model is built at most once.
When ``shared/datasets`` sits beside the repository, ``CSNLP_DATASETS`` points notebook 02 at it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds; the first cell may build the default model
BUDGET = 90  # seconds per notebook, kernel start included; they take well under a minute on two cores
#: Plots each notebook must show (a plot that silently failed to render would leave a gap in the story).
PLOTS = {"01_quickstart.ipynb": 0, "02_train_evaluate_tune.ipynb": 3, "03_insights.ipynb": 4}


def _kernel_available() -> str | None:
    """None when nbclient can run a Python kernel here, else why not."""
    for module in ("nbclient", "nbformat", "ipykernel"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install -e '.[dev]')"
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        return "no 'python3' Jupyter kernel is registered (python -m ipykernel install --user)"
    return None


def test_notebooks_exist():
    names = [p.name for p in NOTEBOOKS]
    assert names == ["01_quickstart.ipynb", "02_train_evaluate_tune.ipynb", "03_insights.ipynb"], names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    book = json.loads(path.read_text(encoding="utf-8"))
    assert book["cells"], f"{path.name} has no cells"
    for i, cell in enumerate(book["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs: clear them before committing"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


def _only_relative_paths(source: str) -> bool:
    return "/work/" not in source and "/home/" not in source and "C:\\\\" not in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_absolute_paths(path):
    book = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(book["cells"]):
        assert _only_relative_paths("".join(cell["source"])), f"{path.name} cell {i} names an absolute path"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch):
    reason = _kernel_available()
    if reason:
        pytest.skip(f"cannot execute notebooks: {reason}")
    import nbformat
    from nbclient import NotebookClient

    work = tmp_path / "notebooks"
    work.mkdir()
    copy = work / path.name
    shutil.copyfile(path, copy)
    datasets = REPO.parent / "shared" / "datasets"
    if datasets.is_dir():
        monkeypatch.setenv("CSNLP_DATASETS", str(datasets))
    # matplotlib's inline backend (what Jupyter uses) renders into the notebook without a display; an
    # MPLBACKEND=Agg inherited from the environment would silently drop every plot
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    book = nbformat.read(copy, as_version=4)
    client = NotebookClient(book, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError with the cell and its traceback on the first failing cell
    seconds = time.perf_counter() - start
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, errors
    printed = "".join(o.get("text", "") for c in book.cells if c.cell_type == "code" for o in c.outputs)
    assert "Traceback" not in printed
    images = sum("image/png" in o.get("data", {}) for c in book.cells if c.cell_type == "code" for o in c.outputs)
    assert images == PLOTS[path.name], f"{path.name} showed {images} plots, expected {PLOTS[path.name]}"
    assert seconds < BUDGET, f"{path.name} took {seconds:.0f} s; keep each notebook under a minute"
    assert sorted(p.name for p in work.iterdir()) == [path.name], "the notebook wrote files beside itself"
