"""Read notebooks: a learner's submission (validated, outputs dropped, hidden tests never put in) and the
instructor's solution notebook (each graded cell -> the check its hidden test calls, found with ``ast``).

Contract: a graded cell (nbgrader ``grade: true``, ``grade_id`` ``test_<id>``) of the instructor's notebook holds
``### BEGIN HIDDEN TESTS`` / ``grade(checks.check_<id>(fn_a, fn_b))`` / ``### END HIDDEN TESTS``, where ``checks`` is
a module of :mod:`autograder.checks` imported in the notebook (``from autograder.checks import orientation as
checks``) and ``fn_a``, ``fn_b`` are names of functions the learner defines.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.scoring import MAX_BYTES
from textclass.config import REPO_ROOT
from textclass.submission import SubmissionError
_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS\n?", re.S)


@dataclass(frozen=True)
class GradedCell:
    grade_id: str
    points: float
    module: str  # e.g. "autograder.checks.orientation"
    check: str  # e.g. "check_label_balance"
    functions: tuple  # the learner's function names, in the order the check takes them
    student_source: str  # the cell without its hidden tests (what the learner's kernel runs)


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def student_version(source: str) -> str:
    """The source with its hidden tests removed (what nbgrader gives learners)."""
    return _HIDDEN.sub("", source).strip()


def solution_path(level_id: str) -> Path:
    """``solutions/<level>/<notebook>.ipynb`` from curriculum.yml (read directly: autograder never imports tools)."""
    import yaml

    data = yaml.safe_load((REPO_ROOT / "curriculum.yml").read_text(encoding="utf-8"))
    for entry in data.get("levels", []):
        if entry.get("id") == level_id:
            return REPO_ROOT / "solutions" / level_id / f"{entry['notebook']}.ipynb"
    raise KeyError(f"unknown level {level_id!r} in curriculum.yml")


def level_ids() -> list[str]:
    import yaml

    return [e["id"] for e in yaml.safe_load((REPO_ROOT / "curriculum.yml").read_text(encoding="utf-8"))["levels"]]


def _python(source: str) -> str:
    """Cell source with IPython magics/shell lines blanked (so ``ast`` can read the rest)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _aliases(nb) -> dict:
    """``{name: module}`` for every ``from autograder.checks import <level> as <name>`` / ``import ... as``."""
    out = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(_python(cell.source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "autograder.checks":
                for a in node.names:
                    out[a.asname or a.name] = f"autograder.checks.{a.name}"
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autograder.checks."):
                for a in node.names:
                    out[a.asname or a.name] = f"{node.module}:{a.name}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("autograder.checks.") and a.asname:
                        out[a.asname] = a.name
    return out


def graded_cells(solution) -> list[GradedCell]:
    """Each graded cell of the instructor's notebook and the check its hidden test calls."""
    aliases, out = _aliases(solution), []
    for cell in solution.cells:
        meta = nbgrader_meta(cell)
        if not (meta.get("grade") and meta.get("grade_id")):
            continue
        hidden = "\n".join(_HIDDEN.findall(cell.source))
        calls = []
        for node in ast.walk(ast.parse(_python(hidden))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "grade" \
                    and node.args and isinstance(node.args[0], ast.Call):
                calls.append(node.args[0])
        if len(calls) != 1:
            raise ValueError(f"instructor notebook: graded cell {meta['grade_id']!r} must hold exactly one "
                             "`grade(checks.check_<id>(fn, ...))` in its hidden tests")
        call = calls[0]
        if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name) \
                and call.func.value.id in aliases:
            module, check = aliases[call.func.value.id], call.func.attr
        elif isinstance(call.func, ast.Name) and ":" in aliases.get(call.func.id, ""):
            module, check = aliases[call.func.id].split(":")
        else:
            raise ValueError(f"instructor notebook: {meta['grade_id']!r}: cannot tell which check "
                             f"{ast.unparse(call.func)} is (import it from autograder.checks)")
        if call.keywords or not all(isinstance(a, ast.Name) for a in call.args):
            raise ValueError(f"instructor notebook: {meta['grade_id']!r}: the check's arguments must be plain "
                             "names of the learner's functions")
        out.append(GradedCell(meta["grade_id"], float(meta.get("points", 0) or 0), module, check,
                              tuple(a.id for a in call.args), student_version(cell.source)))
    return out


def read_submission(path: Path):
    """The learner's notebook (outputs dropped), or :class:`SubmissionError` (exit 2) saying what is wrong."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SubmissionError(f"{path.name} is larger than {MAX_BYTES // 2**20} MB; clear the outputs "
                              "(Kernel > Restart & Clear Output) and submit again")
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no cells")
        for cell in nb.cells:
            if cell.get("cell_type") not in ("code", "markdown", "raw") or not isinstance(cell.get("source"), str):
                raise ValueError("a cell without a type or source")
            meta = cell.get("metadata", {})
            if not isinstance(meta, dict) or not isinstance(meta.get("nbgrader", {}), dict):
                raise ValueError("malformed nbgrader metadata")
            grade_id = meta.get("nbgrader", {}).get("grade_id")
            if grade_id is not None and not isinstance(grade_id, str):
                raise ValueError("an nbgrader grade_id that is not a string")
    except Exception as exc:  # noqa: BLE001 -- any parse problem is the learner's file
        raise SubmissionError(f"{path.name} is not a readable Jupyter notebook ({type(exc).__name__}: "
                              f"{str(exc)[:120]}); submit the .ipynb file saved by Jupyter") from None
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        else:
            cell.pop("outputs", None)
    return nb


def prepare(nb, graded: list[GradedCell]) -> list[str]:
    """Put the instructor's *student* test cells (no hidden tests) into ``nb`` in place; messages about changes.
    The learner's own graded-looking cells that are not the assignment's are run but not graded."""
    messages, wanted = [], {g.grade_id: g for g in graded}
    seen = {}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if meta.get("grade") and (gid not in wanted or gid in seen):
            meta["grade"] = False
            messages.append(f"cell {str(gid)[:60]!r} claims to be a graded test but is not one of the assignment's "
                            "(or is a duplicate); it was run but not graded")
        elif meta.get("grade") and gid in wanted:
            seen[gid] = cell
    previous = None
    for gid, g in wanted.items():
        if gid in seen:
            cell = seen[gid]
            if student_version(cell.source) != g.student_source:
                messages.append(f"test cell {gid!r} had been edited; the instructor's version was restored")
            cell.source = g.student_source
            index = nb.cells.index(cell)
        else:
            cell = nbformat.v4.new_code_cell(g.student_source, metadata={"nbgrader": {
                "grade": True, "grade_id": gid, "locked": True, "points": g.points, "schema_version": 3,
                "solution": False}})
            index = nb.cells.index(previous) + 1 if previous is not None else len(nb.cells)
            nb.cells.insert(index, cell)
            messages.append(f"test cell {gid!r} was missing; the instructor's version was put back")
        previous = nb.cells[index]
    return messages
