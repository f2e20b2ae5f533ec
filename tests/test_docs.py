"""The documentation runs: docs/*.md code blocks, the README's Python, docstring examples, the CLI reference.

- Every ```python block of a docs/*.md page runs, in page order, in one namespace per page, in an empty
  temporary working directory. A block whose first line is ``# requires: a, b`` needs optional packages
  (FastAPI, Flask ...): it runs on its own when they are installed and is skipped, saying which, when not.
- Every ```bash block whose first line starts with ``csnlp `` runs through the installed console script, in
  the same directory and in page order with the page's Python blocks. Before a page runs, the test writes
  the small files the pages mention (see ``_write_inputs``); pages create the rest themselves.
- The README's ```python blocks run the same way, its csnlp command blocks run from a directory linking data/, and
  .ci/run must contain the README's test command.
- ``doctest`` over every public module of csnlp (ELLIPSIS | NORMALIZE_WHITESPACE).
- docs/cli.md is what docs/gen_cli.py generates from the current parser.

The default model is built once per session in the session's cache directory (tests/conftest.py).
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import io
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import csnlp

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
README = REPO / "README.md"
CI_SCRIPT = REPO / ".ci" / "run"

_FENCE_RE = re.compile(r"^(`{3,})([\w+-]*)[^\n]*$")
_REQUIRES_RE = re.compile(r"^#\s*requires:\s*(.+)$")


# -- extracting code blocks ------------------------------------------------------------------------------------
def code_blocks(path: Path) -> list[tuple[str, int, str]]:
    """(language, first line number of the code, code) of every fenced block, in order."""
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group(1), m.group(2).lower()
        body, j = [], i + 1
        while j < len(lines) and not lines[j].startswith(fence):
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise AssertionError(f"{path.name} line {i + 1}: code block is never closed")
        blocks.append((lang, i + 2, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def requirements(code: str) -> list[str]:
    first = code.lstrip("\n").splitlines()[0] if code.strip() else ""
    m = _REQUIRES_RE.match(first.strip())
    return [name.strip() for name in m.group(1).split(",")] if m else []


def is_cli_block(lang: str, code: str) -> bool:
    return lang in ("bash", "sh", "shell") and code.lstrip().startswith("csnlp ")


def doc_pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def _optional_blocks() -> list:
    params = []
    for page in doc_pages():
        for lang, line, code in code_blocks(page):
            if lang == "python" and requirements(code):
                params.append(pytest.param(page, line, code, id=f"{page.name}:{line}"))
    return params


# -- running them ----------------------------------------------------------------------------------------------
def run_python(code: str, path: Path, line: int, namespace: dict) -> None:
    # pad with blank lines so that a traceback names the line of the Markdown file
    exec(compile("\n" * (line - 1) + code, str(path), "exec"), namespace)


def console_script() -> Path | None:
    """The ``csnlp`` console script of the environment running the tests."""
    exe = Path(sys.executable).parent / ("csnlp.exe" if os.name == "nt" else "csnlp")
    if exe.is_file():
        return exe
    found = shutil.which("csnlp")
    return Path(found) if found else None


def run_cli(code: str, path: Path, line: int, cwd: Path) -> None:
    script = console_script()
    if script is None:
        pytest.skip("the csnlp console script is not installed: pip install -e .")
    env = dict(os.environ, PATH=f"{script.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=300)
    assert proc.returncode == 0, (
        f"{path.name} line {line}: exit code {proc.returncode}\n--- block\n{code}--- stderr\n{proc.stderr[-3000:]}"
    )
    assert "Traceback" not in proc.stderr, proc.stderr


def _packaged(rel: str) -> bytes:
    from importlib import resources

    return resources.files("csnlp._data").joinpath(*rel.split("/")).read_bytes()


def _write_inputs(folder: Path) -> None:
    """The files the pages mention without creating them, made from the packaged data: a chat log, messages to
    score, and small labelled intent files (8 intents; 30 training and 10 test messages each)."""
    log = _packaged("examples/conversations.jsonl")
    (folder / "conversations.jsonl").write_bytes(log)
    rows = [json.loads(line) for line in log.decode("utf-8").splitlines()[:200]]
    with open(folder / "messages.jsonl", "w", encoding="utf-8") as fh:
        for i, row in enumerate(rows):
            fh.write(json.dumps({"id": f"m{i}", "text": row["text"], "channel": row["channel"]}, ensure_ascii=False) + "\n")
    (folder / "messages.txt").write_text("\n".join(r["text"] for r in rows[:20]) + "\n", encoding="utf-8")
    intents = ("shipping_progress", "return_request", "refund_status", "invoice", "change_address", "coupon",
               "human_agent", "out_of_scope")
    for name, per_intent in (("train.jsonl", 30), ("test.jsonl", 10)):
        records = [json.loads(line) for line in _packaged(f"intents/{name}").decode("utf-8").splitlines() if line.strip()]
        chosen = [r for intent in intents for r in [r for r in records if r["label"] == intent][:per_intent]]
        with open(folder / name, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"text": r["text"], "label": r["label"]}, ensure_ascii=False) + "\n" for r in chosen)


def run_page(path: Path, cwd: Path) -> int:
    """Run the page's Python and CLI blocks in order; returns how many ran."""
    namespace = {"__name__": f"docs_{path.stem}"}
    ran = 0
    for lang, line, code in code_blocks(path):
        if lang == "python" and not requirements(code):
            run_python(code, path, line, namespace)
            ran += 1
        elif is_cli_block(lang, code):
            run_cli(code, path, line, cwd)
            ran += 1
    return ran


# -- tests -----------------------------------------------------------------------------------------------------
def test_docs_exist():
    names = {p.name for p in doc_pages()}
    for required in ("concepts.md", "guide_service.md", "guide_retrain.md", "guide_spark.md", "cli.md",
                     "glossary.md"):
        assert required in names, f"docs/{required} is missing"


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: p.name)
def test_doc_page_runs(page, tmp_path, monkeypatch):
    odd = [line for lang, line, _ in code_blocks(page) if lang in ("py", "python3", "pycon", "ipython", "sh", "shell")]
    assert not odd, f"{page.name} lines {odd}: mark Python blocks ```python and shell blocks ```bash"
    monkeypatch.chdir(tmp_path)
    _write_inputs(tmp_path)
    run_page(page, tmp_path)


@pytest.mark.parametrize(("page", "line", "code"), _optional_blocks())
def test_doc_block_with_optional_requirements(page, line, code, tmp_path, monkeypatch):
    missing = [name for name in requirements(code) if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"{page.name} line {line} needs {', '.join(missing)} (not installed)")
    if "pyspark" in requirements(code) and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip(f"{page.name} line {line} needs a Java runtime for Spark")
    monkeypatch.chdir(tmp_path)
    saved = dict(os.environ)  # the Spark example sets PYSPARK_PYTHON and SPARK_LOCAL_IP for its workers
    try:
        run_python(code, page, line, {"__name__": f"docs_{page.stem}_{line}"})
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_concepts_document_every_reason_code_and_policy_key():
    from dataclasses import fields

    from csnlp.policy import REASONS, Policy

    text = (DOCS / "concepts.md").read_text(encoding="utf-8")
    for reason, (action, _) in REASONS.items():
        assert re.search(rf"^\| `{reason}` \| {action} \|", text, re.M), f"reason {reason!r} ({action}) is not in the table"
    for f in fields(Policy):
        assert re.search(rf"^\| `{f.name}` \|", text, re.M), f"policy key {f.name!r} is not in the table"


def test_glossary_has_the_required_terms():
    text = (DOCS / "glossary.md").read_text(encoding="utf-8")
    for term in ("意图", "转人工", "投诉", "反馈", "知识库", "工单", "售前", "售中", "售后", "分词", "置信度", "兜底"):
        assert term in text, f"glossary lacks {term}"


def test_cli_reference_is_up_to_date():
    import runpy

    expected = runpy.run_path(str(DOCS / "gen_cli.py"))["render"]()  # run_path writes no __pycache__ into docs/
    current = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert current == expected, "docs/cli.md is out of date: run python docs/gen_cli.py"
    for name in ("train", "evaluate", "predict", "route", "tune"):
        assert f"## csnlp {name}\n" in current


_LINK_RE = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    headings, in_code = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            headings.append(_slug(line.lstrip("#")))
    return set(headings)


@pytest.mark.parametrize("page", [*doc_pages(), README], ids=lambda p: p.name)
def test_doc_links_resolve(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code such as `[北京](city)` is not a link
    for target in _LINK_RE.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file_part, _, anchor = target.partition("#")
        path = (page.parent / file_part).resolve() if file_part else page
        assert path.exists(), f"{page.name}: link to {target} points at nothing"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), f"{page.name}: no heading for #{anchor} in {path.name}"


# -- README ----------------------------------------------------------------------------------------------------
def _readme_blocks(lang: str) -> list[tuple[int, str]]:
    return [(line, code) for block_lang, line, code in code_blocks(README) if block_lang == lang]


def test_readme_python_runs(tmp_path, monkeypatch):
    blocks = _readme_blocks("python")
    assert blocks, "README.md has no ```python block"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    for line, code in blocks:
        run_python(code, README, line, namespace)


def test_ci_runs_the_readme_test_command():
    commands = [code for _, code in _readme_blocks("bash") if "pytest" in code]
    assert len(commands) == 1, "README.md should have exactly one ```bash block that runs pytest"
    ci = CI_SCRIPT.read_text(encoding="utf-8")
    ci_lines = [line.strip() for line in ci.splitlines() if not line.strip().startswith("#")]
    steps = [s.strip() for s in commands[0].strip().split("&&")]
    install = [s for s in steps if s.startswith("pip install")]
    tests = [s for s in steps if "pytest" in s]
    assert install and tests, f"the README's test command has no install or pytest step: {commands[0]!r}"
    for step in install + tests:
        assert any(line == step or line.startswith(step + " ") for line in ci_lines), (
            f".ci/run does not run the README's step {step!r}"
        )


def test_readme_has_the_two_setup_commands():
    setup = [code for lang, _, code in code_blocks(README) if lang == "bash" and code.startswith("python3 -m venv")]
    assert len(setup) == 2, "README.md should have its two set-up commands (main job; tests)"
    assert setup[0].rstrip().endswith("pip install . && csnlp demo"), setup[0]


def test_readme_commands_run(tmp_path, monkeypatch):
    """The README's tour runs as written from a clone: the same relative paths, in an empty directory that
    holds only a link to the repository's data/."""
    blocks = [(line, code) for line, code in _readme_blocks("bash") if code.lstrip().startswith("csnlp ")]
    assert blocks, "README.md has no csnlp command block"
    (tmp_path / "data").symlink_to(REPO / "data", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    for line, code in blocks:
        run_cli(code, README, line, tmp_path)
    assert (tmp_path / "report" / "report.html").is_file()


# -- docstring examples ----------------------------------------------------------------------------------------
def public_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(csnlp.__path__, "csnlp.") if not m.name.split(".")[-1].startswith("_"))


#: Modules whose docstring examples fail today, with the reason (see the report of the docs issue).
DOCTEST_FAILURES: dict[str, str] = {}


def _doctest_params() -> list:
    params = []
    for name in public_modules():
        marks = ()
        if name in DOCTEST_FAILURES:
            marks = pytest.mark.xfail(strict=True, reason=DOCTEST_FAILURES[name])
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.mark.parametrize("module_name", _doctest_params())
def test_docstring_examples(module_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(module_name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, module_name):
        runner.run(test, out=out.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, out.getvalue()


def test_docstring_examples_exist():
    attempted = 0
    for name in public_modules():
        module = importlib.import_module(name)
        attempted += sum(len(t.examples) for t in doctest.DocTestFinder(exclude_empty=True).find(module, name))
    assert attempted >= 20, f"only {attempted} docstring examples in csnlp"
