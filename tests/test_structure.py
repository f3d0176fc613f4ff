"""The shape of the code base: the import graph of the Python tree has no circle and keeps its layers
(textclass below autograder below tools), and no block of six or more lines is repeated between solution
notebooks or between modules of the Python tree (a helper written once is called by name instead)."""
from __future__ import annotations

import ast
import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("textclass", "autograder", "tools")
MIN_LINES = 6


# ----------------------------------------------------------------------------------------- import graph

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of PACKAGES it imports (anywhere in the file: a lazy import inside a function
    still ties the two modules together)."""
    files = {_module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name and target.split(".")[0] in PACKAGES:
                    deps.add(target)
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _package_edges(graph):
    """Imports between modules that are not a package and its own ``__init__`` re-exporting."""
    return [(a, b) for a, deps in graph.items() for b in deps if not (a == b.rpartition(".")[0] or b == a)]


def test_the_import_graph_has_no_circle():
    graph = import_graph()
    assert "textclass.config" in graph and graph["textclass.data"] >= {"textclass.config"}  # the walker works
    # package __init__ files re-export their modules; a module importing its own package is not a circle
    trimmed = {a: {b for b in deps if not (a.startswith(b + ".") and b in PACKAGES)} for a, deps in graph.items()}
    assert _cycles(trimmed) == []


@pytest.mark.parametrize("lower, upper", [("textclass", "autograder"), ("textclass", "tools"),
                                          ("autograder", "tools")])
def test_layers(lower, upper):
    """textclass (what learners install) imports no tooling; autograder imports no course tooling."""
    wrong = sorted(f"{a} -> {b}" for a, deps in import_graph().items() for b in deps
                   if a.split(".")[0] == lower and b.split(".")[0] == upper)
    assert not wrong, wrong


def test_no_tooling_module_sits_in_the_learner_package():
    for name in ("book", "curriculum", "benchmark", "run", "publish", "regenerate"):
        assert not (REPO / "textclass" / f"{name}.py").exists(), name


def test_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


# ----------------------------------------------------------------------------------------- duplicates

_COMMENT = re.compile(r"^\s*#")


def _normalise(lines) -> list[tuple[int, str]]:
    """(line number, text with whitespace folded) of the lines that count: no blank lines, comments,
    lone punctuation, imports, or IPython magics."""
    out = []
    for no, line in enumerate(lines, 1):
        text = " ".join(line.split())
        if (not text or _COMMENT.match(text) or text.startswith(("import ", "from ", "%", "!"))
                or not re.search(r"\w", text)):
            continue
        out.append((no, text))
    return out


def _windows(units: dict[str, list[str]]) -> dict[str, set[str]]:
    """hash of MIN_LINES consecutive counting lines -> the places (unit:line) it stands in."""
    seen: dict[str, set[str]] = defaultdict(set)
    for unit, lines in units.items():
        norm = _normalise(lines)
        for i in range(len(norm) - MIN_LINES + 1):
            block = "\n".join(t for _, t in norm[i:i + MIN_LINES])
            seen[hashlib.sha1(block.encode()).hexdigest()].add(f"{unit}:{norm[i][0]}")
    return seen


def repeated(units: dict[str, list[str]], key=lambda place: place.rsplit(":", 1)[0]) -> list[list[str]]:
    """Blocks of MIN_LINES or more lines that stand in two or more different units (by ``key``); a longer
    repeated run is reported once, at its first line in each unit."""
    found = sorted(sorted(places) for places in _windows(units).values() if len({key(p) for p in places}) > 1)
    out, seen = [], set()
    for places in found:
        files = tuple(key(p) for p in places)
        lines = [int(p.rsplit(":", 1)[1]) for p in places]
        if any((files, tuple(n - d for n in lines)) in seen for d in range(1, 40)):
            seen.add((files, tuple(lines)))
            continue  # the same run, one line further on
        seen.add((files, tuple(lines)))
        out.append(places)
    return out


# Cells every notebook must hold in its own copy, each written once elsewhere: the Colab install cell is
# generated by tools/book.py (tests/test_book.py proves every notebook starts with it) and the `parameters`
# cell is papermill's interface (its names are what `./course run` injects).
_DECLARATION_CELLS = {"colab_install", "parameters"}


def notebook_code(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    lines = []
    for cell in nb["cells"]:
        meta = cell.get("metadata", {})
        if (meta.get("nbgrader") or {}).get("grade_id") in _DECLARATION_CELLS or "parameters" in meta.get("tags", []):
            continue
        if cell["cell_type"] == "code":
            src = cell["source"]
            lines += ("".join(src) if isinstance(src, list) else src).splitlines() + [""]
    return lines


def test_duplicate_finder_finds_a_repeated_block():
    block = [f"x{i} = f(x{i - 1}, {i})" for i in range(1, 7)]
    assert repeated({"a": block + ["y = 1"], "b": ["z = 2", "# note", ""] + [" " + b + "  " for b in block]})
    assert not repeated({"a": block[:5] + ["y = 1"], "b": block[:5] + ["z = 2"]})


def test_no_block_repeated_between_solution_notebooks():
    units = {str(p.relative_to(REPO)): notebook_code(p) for p in sorted((REPO / "solutions").glob("*/*.ipynb"))}
    assert len(units) >= 7
    found = repeated(units)
    assert not found, "blocks of 6+ lines repeated between notebooks (write a helper in textclass):\n" + \
        "\n".join(" ~ ".join(places) for places in found)


def test_no_block_repeated_between_modules_of_the_python_tree():
    units = {str(p.relative_to(REPO)): p.read_text(encoding="utf-8").splitlines()
             for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}
    found = repeated(units)
    assert not found, "blocks of 6+ lines repeated between modules:\n" + \
        "\n".join(" ~ ".join(places) for places in found)
