"""``python -m tools publish [RUN_DIR]``: maintainer step: a run folder becomes the course's committed reference.

Copies the run's executed notebooks into ``book/executed/`` and its result records (and ``.npz`` artifacts, such
as Level 5's teacher soft labels) into ``results/``. A side run -- a notebook run with a ``run_name`` parameter,
such as Level 4 run as Level 5's teacher -- publishes its records and artifacts, never its notebook: the
level's page stays the level's own run.
regenerates the book's generated pages (``python -m tools book --generate``), then re-checks that the README
and the chapters still quote the recorded numbers (``tests/test_readme.py``, ``tests/test_book.py``).
Nothing else changes tracked files: ``./course run`` only writes its run folder. Review ``git diff``, then commit.

``--prose LEVEL ...`` publishes an edit of a solution's text alone: the solution's markdown cells and code comments
replace the executed page's, and only where every code cell is, token for token, the one that ran (a code change
needs a new run).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from autograder import first_paragraph
from tools import REPO_ROOT, RUN_DIR, UsageError

CHECKS = ["tests/test_readme.py", "tests/test_book.py"]


def papermill_parameters(notebook: Path) -> dict:
    """The parameters papermill ran an executed notebook with (``size``; ``run_name`` for a side run)."""
    meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    return (meta.get("papermill") or {}).get("parameters", {})


def publish(run: Path, *, root: Path = REPO_ROOT, allow_small: bool = False) -> list[Path]:
    """Copy ``run`` into the reference under ``root``; return the files written."""
    from tools.book import generate
    from tools.curriculum import error_outputs

    run = Path(run)
    executed = [p for p in sorted((run / "executed").glob("*.ipynb"))
                if not p.name.endswith((".partial.ipynb", ".failed.ipynb"))]
    records = sorted((run / "results").glob("*.json")) + sorted((run / "results").glob("*.npz"))
    if not executed and not records:
        raise UsageError(f"{run} holds no executed notebooks or records: run `./course run --size full` first")
    parameters = {nb: papermill_parameters(nb) for nb in executed}   # read once per notebook
    for nb in executed:
        errors = error_outputs(nb)
        if errors:
            raise UsageError(f"{nb} holds an error output ({errors[0]}): re-run that level before publishing")
        size = str(parameters[nb].get("size", ""))
        if size != "full" and not allow_small:
            raise UsageError(f"{nb} is a --size {size or '?'} run; the book's chapters quote the full "
                             "job. Publish a `./course run --size full` run (or pass --allow-small).")
    small = [rec for rec in records if rec.suffix == ".json" and rec.stem.split("-")[2:3] == ["small"]]
    if small and not allow_small:
        raise UsageError(f"{small[0].name} is a --size small record; the chapters quote the full job. Publish a run "
                         "folder of `./course run --size full` (e.g. `--out _build/runs-full`), or pass --allow-small.")
    written = []
    for nb in executed:
        name = parameters[nb].get("run_name")   # a side run: its records and artifacts, not its notebook
        if name:
            print(f"kept out of the book: {nb.name} is a side run (run_name={name!r}); its records and "
                  "artifacts are published")
            continue
        dest = Path(root) / "book" / "executed" / nb.name
        shutil.copy2(nb, dest)
        written.append(dest)
    for rec in records:
        dest = Path(root) / "results" / rec.name
        shutil.copy2(rec, dest)
        written.append(dest)
    written += generate(Path(root))
    return written


def code_tokens(source: str):
    """The tokens Python runs of a cell's source -- comments and blank lines left out, line ends and indentation
    by their kind -- or the source itself when a line is an IPython magic or a shell command (``%``, ``!``: not
    Python, where a ``#`` line may be data) or it does not tokenize, so that only an identical cell compares equal."""
    import io
    import tokenize

    if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return source
    by_kind = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    try:
        return [(t.type, "" if t.type in by_kind else t.string)
                for t in tokenize.generate_tokens(io.StringIO(source).readline)
                if t.type not in (tokenize.COMMENT, tokenize.NL)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source


def prose_page(level: str, *, root: Path = REPO_ROOT) -> tuple[Path, str]:
    """``(book/executed/<level>.ipynb, its new text)``: the page with ``solutions/<level>/<level>.ipynb``'s markdown
    cells and code comments, its code and outputs as they ran; refused (UsageError) unless the two notebooks have
    the same cells in the same order and every code cell the same code (:func:`code_tokens`). Writes nothing."""
    import nbformat

    solution_path = Path(root) / "solutions" / level / f"{level}.ipynb"
    page_path = Path(root) / "book" / "executed" / f"{level}.ipynb"
    if not solution_path.is_file() or not page_path.is_file():
        raise UsageError(f"--prose {level}: needs {solution_path.relative_to(root)} and {page_path.relative_to(root)}")
    solution = nbformat.read(solution_path, as_version=4)
    page = nbformat.read(page_path, as_version=4)
    ran = [c for c in page.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    if [c.cell_type for c in ran] != [c.cell_type for c in solution.cells]:
        raise UsageError(f"--prose {level}: the solution's cells are not the executed page's (cells added, removed or "
                         f"moved): re-run it (./course run {level} --size full, then ./course publish)")
    changed = [i for i, (a, b) in enumerate(zip(solution.cells, ran))
               if a.cell_type == "code" and code_tokens(a.source) != code_tokens(b.source)]
    if changed:
        raise UsageError(f"--prose {level}: code cell {changed[0]} of the solution is not the one that ran: re-run it "
                         f"(./course run {level} --size full, then ./course publish)")
    for new, cell in zip(solution.cells, ran):
        cell.source = new.source   # the same code (checked above): its outputs still belong to it
    before = page_path.read_text(encoding="utf-8")
    return page_path, nbformat.writes(page).rstrip("\n") + ("\n" if before.endswith("\n") else "")  # its last line


def publish_prose(level: str, *, root: Path = REPO_ROOT) -> Path:
    """Write :func:`prose_page` of ``level``; return the page's path."""
    path, text = prose_page(level, root=root)
    path.write_text(text, encoding="utf-8")
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools publish", description=first_paragraph(__doc__).split(": ", 1)[1])
    ap.add_argument("run", nargs="?", default=str(RUN_DIR), help="the run folder (default _build/runs)")
    ap.add_argument("--allow-small", action="store_true", help="also publish --size small notebooks")
    ap.add_argument("--skip-checks", action="store_true", help="do not re-run the README and book checks")
    ap.add_argument("--prose", nargs="+", metavar="LEVEL",
                    help="publish only the text of these levels' solutions into their executed pages (every code "
                         "cell must be the one that ran); no run folder is read")
    args = ap.parse_args(argv)
    try:
        if args.prose:   # every level checked before any page is written
            pages = [prose_page(level) for level in args.prose]
            for path, text in pages:
                path.write_text(text, encoding="utf-8")
            written = [path for path, _ in pages]
        else:
            written = publish(Path(args.run), allow_small=args.allow_small)
    except UsageError as exc:
        print(f"publish: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")
    if args.skip_checks:
        return 0
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", *CHECKS], cwd=REPO_ROOT)
    if proc.returncode != 0:
        print("publish: the README or a chapter quotes a number the new records changed: update the prose "
              "(README.md 'Measured', book/<level>.md) until the checks above pass, then commit.", file=sys.stderr)
        return 1
    print("publish: reference updated and checked; review `git diff` and commit.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
