"""Every figure of the book has alt text and a caption: ``book/figures.yml``, attached by ``tools/book.py``
(:func:`tools.book.annotate_figures`) as MyST-NB's cell metadata ``mystnb: {image: {alt}, figure: {caption}}``.

Fails when an image output of a rendered notebook (either edition) has no alt text or no caption, when an entry of
``book/figures.yml`` names no figure cell (a code change must not orphan a caption silently), and when a caption
quotes a number that its figure's executed outputs do not print. Fast: no book build (the MyST-NB rendering is
checked with its docutils parser on the generated notebooks).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from tools import book

REPO = Path(__file__).resolve().parent.parent
TABLE = book.figure_table(REPO)


def _levels():
    return [lv for lv in book.curriculum(REPO)["levels"]
            if (REPO / "book" / "executed" / f"{lv['notebook']}.ipynb").exists()]


def _executed(level):
    return nbformat.read(REPO / "book" / "executed" / f"{level['notebook']}.ipynb", as_version=4)


def _image_outputs(nb):
    """``(cell index, output index)`` of every image output."""
    return [(i, j) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for j, o in enumerate(c.get("outputs", [])) if any(m.startswith("image/") for m in o.get("data", {}))]


def _missing_figure_text(nb, name: str) -> list[str]:
    """Image outputs of ``nb`` without alt text or caption, and captioned cells whose caption MyST-NB would repeat
    (it wraps every display output of the cell in a figure)."""
    problems = []
    for i, j in _image_outputs(nb):
        cell = nb.cells[i]
        meta = cell.metadata.get("mystnb") or {}
        where = f"{name}: cell {i} ({cell.metadata.get('nbgrader', {}).get('grade_id') or cell.source[:60]!r})"
        if not str((meta.get("image") or {}).get("alt", "")).strip():
            problems.append(f"{where}: image output {j} has no alt text")
        if not str((meta.get("figure") or {}).get("caption", "")).strip():
            problems.append(f"{where}: image output {j} has no caption")
        displays = [o for o in cell.outputs if o.get("output_type") in ("display_data", "execute_result")]
        if len(displays) != 1:
            problems.append(f"{where}: {len(displays)} display outputs, each would get the caption")
    return problems


@pytest.mark.parametrize("edition", book.EDITIONS)
def test_every_image_of_every_generated_notebook_has_alt_text_and_a_caption(tmp_path, edition):
    """What ``python -m tools book --generate`` writes to book/rendered/, generated in a copy of the sources."""
    root = tmp_path / "root"
    (root / "book").mkdir(parents=True)
    for name in ("curriculum.yml", "_config.yml"):
        shutil.copy2(REPO / name, root / name)
    shutil.copy2(REPO / book.FIGURES, root / book.FIGURES)
    shutil.copytree(REPO / "book" / "executed", root / "book" / "executed")
    shutil.copytree(REPO / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns("__pycache__"))
    written = book.edition_notebooks(root, edition)
    rendered = sorted((root / book.RENDERED).glob("*.ipynb"))
    assert rendered and sorted(written) == rendered
    problems, images = [], 0
    for path in rendered:
        nb = nbformat.read(path, as_version=4)
        images += len(_image_outputs(nb))
        problems += _missing_figure_text(nb, f"{book.RENDERED}/{path.name}")
    assert images, "no image output in the rendered notebooks"
    assert not problems, ("add the figure to book/figures.yml (code, alt, caption):\n" + "\n".join(problems))


def test_every_figure_table_entry_names_one_figure_cell():
    """An entry whose ``code`` is in no cell with an image output (the cell changed, or lost its plot) fails here
    rather than leaving a figure without its caption; so does a level id that is not a level with a notebook."""
    levels = {lv["id"]: lv for lv in _levels()}
    assert set(TABLE) <= set(levels), f"book/figures.yml: no executed level {sorted(set(TABLE) - set(levels))}"
    orphans = []
    for level_id, entries in TABLE.items():
        for edition in book.EDITIONS:
            nb = book.edition_notebook(levels[level_id], REPO, edition, figures={})
            orphans += [f"{level_id} ({edition} edition): {e['code']!r}"
                        for e in book.annotate_figures(nb, entries, level_id)]
    assert not orphans, "book/figures.yml entries that match no figure cell:\n" + "\n".join(orphans)


def test_figure_text_quotes_only_numbers_of_the_run():
    """A caption's numbers are printed by the executed outputs next to its figure (the cell, or the code cell
    before it) and an alt text's numbers are in the plotting cell's code, in the edition learners read."""
    levels = {lv["id"]: lv for lv in _levels()}
    wrong = []
    for level_id, entries in TABLE.items():
        nb = book.edition_notebook(levels[level_id], REPO, "learner", figures={})
        for entry in entries:
            index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and entry["code"] in c.source),
                         None)
            if index is None:
                continue  # an orphan: test_every_figure_table_entry_names_one_figure_cell says so
            printed = book.numbers(book.printed_text(nb, index))
            missing = sorted(book.numbers(entry["caption"]) - printed)
            if missing:
                wrong.append(f"{level_id} {entry['code']!r}: caption numbers {missing} are not printed next to it")
            missing = sorted(book.numbers(entry["alt"]) - book.numbers(nb.cells[index].source))
            if missing:
                wrong.append(f"{level_id} {entry['code']!r}: alt numbers {missing} are not in the cell's code")
            if len(re.findall(r"[.!?](?:\s|$)", " ".join(entry["caption"].split()))) != 1:
                wrong.append(f"{level_id} {entry['code']!r}: the caption is not one sentence")
    assert not wrong, "\n".join(wrong)


def test_myst_nb_renders_the_metadata_as_img_alt_and_figcaption(tmp_path):
    """MyST-NB (its docutils parser, as in the Sphinx build) turns the metadata into ``<img alt>`` inside a
    ``<figure>`` with a ``<figcaption>``, for every figure of every learner-edition notebook."""
    import html as html_lib

    from docutils.core import publish_string
    from myst_nb.docutils_ import Parser

    for lv in _levels():
        nb = book.edition_notebook(lv, REPO, "learner")
        out = tmp_path / lv["notebook"]
        page = publish_string(nbformat.writes(nb), source_path=str(tmp_path / f"{lv['notebook']}.ipynb"),
                              parser=Parser(), writer_name="html5",
                              settings_overrides={"output_encoding": "unicode", "report_level": 4,
                                                  "nb_execution_mode": "off", "nb_output_folder": str(out),
                                                  "image_loading": "link"})
        figures = re.findall(r"<figure[^>]*>(.*?)</figure>", page, re.S)
        images = [i for i, _ in _image_outputs(nb)]
        assert len(figures) == len(images), lv["id"]
        for index, fig in zip(images, figures):
            meta = nb.cells[index].metadata["mystnb"]
            alt = re.search(r'<img alt="([^"]*)"', fig)
            assert alt and html_lib.unescape(alt.group(1)) == meta["image"]["alt"], (lv["id"], index)
            caption = re.search(r"<figcaption>(.*?)</figcaption>", fig, re.S)
            assert caption, (lv["id"], index)
            text = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", caption.group(1))).split())
            assert text == meta["figure"]["caption"].replace("`", ""), (lv["id"], index)


# --------------------------------------------------------------------------------------------- the mechanism

def _figure_cell(source: str, printed: str = "", image: bool = True):
    cell = nbformat.v4.new_code_cell(source)
    if printed:
        cell.outputs.append(nbformat.v4.new_output("stream", text=printed))
    if image:
        cell.outputs.append(nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=",
                                                                         "text/plain": "<Figure size 640x480>"}))
    return cell


def test_annotate_figures_attaches_alt_and_a_caption_whose_numbers_are_printed():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('acc')", outputs=[nbformat.v4.new_output("stream", text="acc 81.19%\n")]),
                nbformat.v4.new_markdown_cell("text"),
                _figure_cell('ax.set_title("first")', "n = 872\n"),
                _figure_cell('ax.set_title("second")', "accuracy 90.00%\n"),
                _figure_cell('ax.set_title("third")'),
                nbformat.v4.new_code_cell('print("no plot")')]
    entries = [{"code": 'ax.set_title("first")', "alt": "A  bar\nchart.", "caption": "81.19% on n = 872 (one in 1,000)."},
               {"code": 'ax.set_title("second")', "alt": "A line.", "caption": "It reaches 91.30% here."},
               {"code": 'ax.set_title("gone")', "alt": "x", "caption": "y"},
               {"code": 'print("no plot")', "alt": "x", "caption": "y"}]
    nb.cells[2].outputs[0].text += "1,000 runs\n"
    orphans = book.annotate_figures(nb, entries, "made-up")
    assert [o["code"] for o in orphans] == ['ax.set_title("gone")', 'print("no plot")']
    # the numbers come from the cell and the code cell before it; whitespace is folded
    assert nb.cells[2].metadata["mystnb"] == {"image": {"alt": "A bar chart."},
                                              "figure": {"caption": "81.19% on n = 872 (one in 1,000)."}}
    # 91.30 is not printed next to the second figure: alt text only, no caption that contradicts the figure
    assert nb.cells[3].metadata["mystnb"] == {"image": {"alt": "A line."}}
    assert "mystnb" not in nb.cells[4].metadata and "mystnb" not in nb.cells[5].metadata
    # the checks of the tests above find the figures without text
    problems = _missing_figure_text(nb, "made-up")
    assert problems == ["made-up: cell 3 ('ax.set_title(\"second\")'): image output 1 has no caption",
                        "made-up: cell 4 ('ax.set_title(\"third\")'): image output 0 has no alt text",
                        "made-up: cell 4 ('ax.set_title(\"third\")'): image output 0 has no caption"]


def test_a_code_in_several_cells_or_two_entries_for_one_cell_is_refused():
    nb = nbformat.v4.new_notebook()
    nb.cells = [_figure_cell("plt.show()  # a"), _figure_cell("plt.show()  # b")]
    with pytest.raises(book.BookError, match="is in 2 code cells"):
        book.annotate_figures(nb, [{"code": "plt.show()", "alt": "x", "caption": "y"}])
    with pytest.raises(book.BookError, match="name the same cell"):
        book.annotate_figures(nb, [{"code": "# a", "alt": "x", "caption": "y"},
                                   {"code": "plt.show()  # a", "alt": "x", "caption": "y"}])


def test_figure_table_is_checked(tmp_path):
    (tmp_path / "book").mkdir()
    assert book.figure_table(tmp_path) == {}
    (tmp_path / book.FIGURES).write_text("orientation:\n  - code: 'plt.show()'\n    caption: A caption.\n")
    with pytest.raises(book.BookError, match="lacks alt"):
        book.figure_table(tmp_path)
    (tmp_path / book.FIGURES).write_text("orientation: {code: x}\n")
    with pytest.raises(book.BookError, match="must be a list"):
        book.figure_table(tmp_path)


def test_numbers_are_the_ones_a_sentence_writes():
    assert book.numbers("SST-2, all-MiniLM-L6-v2, int8, x0.20: 67,349 rows, 81.19% (708/872) at 0.5.") == \
        {67349.0, 81.19, 708.0, 872.0, 0.5}
