"""Datasets from the Hugging Face Hub or from a local data directory, through one code path.

Every loader returns a :class:`datasets.Dataset` with the Hub's column names and row order, whichever
way it was loaded, so the code that uses it never needs to know. ``idx`` is always present (the row's
0-based number in the Hub split, which is what submissions are ordered by).
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from textclass.config import ResourceError, hub_endpoint, resolve_data_dir, resolve_profile


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    hub: tuple  # arguments of datasets.load_dataset
    text_column: str
    label_names: tuple
    splits: dict  # split -> relative path (or loader key) inside the data directory
    reader: Callable = field(repr=False, default=None)
    hub_kwargs: dict = field(default_factory=dict)  # extra keyword arguments of datasets.load_dataset
    rows: dict = field(default_factory=dict)  # split -> rows in the course's copy (what `./course data` checks)

    @property
    def hub_id(self) -> str:
        """The Hub repository id (``namespace/name``)."""
        return self.hub[0]

    def hub_call(self, split: str) -> str:
        """The ``load_dataset`` call this spec makes online, as a learner would type it."""
        args = ", ".join([repr(a) for a in self.hub] + [f"split={split!r}"]
                         + [f"{k}={v!r}" for k, v in self.hub_kwargs.items()])
        return f"load_dataset({args})"


def _read_tsv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _read_sst2(path: Path, split: str) -> dict:
    rows = _read_tsv(path)
    if split == "test":  # GLUE's unlabeled test file: index, sentence; the Hub uses label -1
        return {"sentence": [r["sentence"] for r in rows], "label": [-1] * len(rows),
                "idx": [int(r["index"]) for r in rows]}
    return {"sentence": [r["sentence"] for r in rows], "label": [int(r["label"]) for r in rows],
            "idx": list(range(len(rows)))}


def _jsonl_reader(text_key: str):
    def read(path: Path, split: str) -> dict:
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return {text_key: [r[text_key] for r in rows], "label": [int(r["label"]) for r in rows],
                "idx": list(range(len(rows)))}
    return read


# Hub ids. The canonical, parquet-backed repositories: datasets >= 4 no longer runs loading scripts, and a bare
# id such as "glue" is rejected by the Hub client ("Repository id must be 'namespace/name'"), so
# load_dataset("glue", "sst2") fails; GLUE lives at nyu-mll/glue. PolyAI/banking77 is script-only: MTEB's
# mteb/banking77 is the same data (same label ids) as parquet, at the revision MTEB's Banking77Classification pins
# (10,003 / 3,080 rows; its main branch moved on to a corrected copy with 9,993 / 3,076, not the data behind MTEB's
# published scores); there `label` is a plain integer beside `label_text`. takala/financial_phrasebank is
# script-only on its main branch; the Hub's own parquet conversion of it is the branch refs/convert/parquet, one
# folder per config.
BANKING77_REVISION = "0fd18e25b25c072e09e0d92ab615fda904d66300"
DATASETS: dict[str, DatasetSpec] = {
    "sst2": DatasetSpec("sst2", ("nyu-mll/glue", "sst2"), "sentence", ("negative", "positive"),
                        {"train": "sst2/train.tsv", "validation": "sst2/validation.tsv", "test": "sst2/test.tsv"},
                        _read_sst2, rows={"train": 67349, "validation": 872, "test": 1821}),
    "rotten_tomatoes": DatasetSpec("rotten_tomatoes", ("cornell-movie-review-data/rotten_tomatoes",), "text",
                                   ("neg", "pos"),
                                   {"validation": "rotten_tomatoes/validation.jsonl",
                                    "test": "rotten_tomatoes/test.jsonl"}, _jsonl_reader("text"),
                                   rows={"validation": 1066, "test": 1066}),
    "tweet_eval_sentiment": DatasetSpec("tweet_eval_sentiment", ("cardiffnlp/tweet_eval", "sentiment"), "text",
                                        ("negative", "neutral", "positive"),
                                        {"validation": "tweet_eval_sentiment/validation.jsonl",
                                         "test": "tweet_eval_sentiment/test.jsonl"}, _jsonl_reader("text"),
                                        rows={"validation": 2000, "test": 12284}),
    "ag_news": DatasetSpec("ag_news", ("fancyzhx/ag_news",), "text", ("World", "Sports", "Business", "Sci/Tech"),
                           {"test": "ag_news/test.jsonl"}, _jsonl_reader("text"), rows={"test": 7600}),
    "banking77": DatasetSpec("banking77", ("mteb/banking77",), "text", (),
                             {"train": "banking77/train.jsonl", "test": "banking77/test.jsonl"},
                             _jsonl_reader("text"), {"revision": BANKING77_REVISION},
                             rows={"train": 10003, "test": 3080}),
    "financial_phrasebank": DatasetSpec("financial_phrasebank", ("takala/financial_phrasebank",),
                                        "sentence", ("negative", "neutral", "positive"),
                                        {"train": "financial_phrasebank/sentences_allagree.jsonl"},
                                        _jsonl_reader("sentence"),
                                        {"revision": "refs/convert/parquet", "data_dir": "sentences_allagree"},
                                        rows={"train": 2264}),
}


def spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ResourceError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None


def label_names(name: str, data_dir=None) -> list[str]:
    """Class names in label-id order."""
    s = spec(name)
    if s.label_names:
        return list(s.label_names)
    if name == "banking77":
        directory = resolve_data_dir(data_dir)
        if directory and (directory / "banking77" / "hf_label_names.txt").exists():
            return (directory / "banking77" / "hf_label_names.txt").read_text(encoding="utf-8").split()
        import datasets

        try:   # (load_split keeps the text, label and idx columns only: label_text is needed here)
            names = hub_label_names(datasets.load_dataset(*s.hub, split="test", **s.hub_kwargs))
        except Exception as exc:  # no network, hub down, ...
            raise ResourceError(
                f"Could not {s.hub_call('test')} from the Hugging Face Hub at {hub_endpoint()} for banking77's "
                f"label names ({type(exc).__name__}: {str(exc)[:200]}). Offline, set TEXTCLASS_DATA_DIR (or "
                "data_dir) to a folder holding banking77/hf_label_names.txt, e.g. ../shared/data.") from exc
        if names:
            return names
    raise ResourceError(f"no label names for {name!r}")


def hub_label_names(ds) -> list[str] | None:
    """Class names in label-id order of a Hub split: its ClassLabel names, else (mteb/banking77, whose ``label`` is a
    plain integer) from its ``label_text`` column; None when it has neither."""
    names = getattr(ds.features.get("label"), "names", None)
    if names:
        return list(names)
    if "label_text" in ds.column_names:
        pairs = dict(zip(ds["label"], ds["label_text"]))
        if sorted(pairs) == list(range(len(pairs))):
            return [pairs[i] for i in range(len(pairs))]
    return None


def local_path(name: str, split: str, data_dir=None) -> Path | None:
    """Where ``name``/``split`` lives in the data directory, or None when no directory is configured."""
    s = spec(name)
    if split not in s.splits:
        raise ResourceError(f"{name} has no split {split!r} offline; available: {', '.join(s.splits)}")
    directory = resolve_data_dir(data_dir)
    if directory is None:
        return None
    path = directory / s.splits[split]
    if not path.exists():
        raise ResourceError(f"{path} does not exist. TEXTCLASS_DATA_DIR / data_dir must hold {s.splits[split]}.")
    return path


def load_split(name: str, split: str, *, data_dir=None, profile: str = "auto", limit: int | None = None):
    """Load one split as a :class:`datasets.Dataset` (columns: text column, ``label``, ``idx``).

    online: ``datasets.load_dataset`` from the Hub (``HF_ENDPOINT``), exactly what online learners run. When
    the Hub fails, this raises a :class:`ResourceError` saying how to work offline -- it never falls back to
    local files silently.
    offline: the files under the data directory, same columns and row order as the Hub.
    ``limit`` keeps the first ``limit`` rows (for quick runs; graded runs use all of them).
    The source used is printed once per dataset and split, and kept in :data:`SOURCES` (result records
    include it).
    """
    import datasets

    s = spec(name)
    resolved = resolve_profile(profile)
    if resolved == "online":
        try:
            ds = datasets.load_dataset(*s.hub, split=split, **s.hub_kwargs)
        except Exception as exc:  # no network, hub down, ...
            raise ResourceError(
                f"Could not {s.hub_call(split)} from the Hugging Face Hub at {hub_endpoint()} "
                f"({type(exc).__name__}: {str(exc)[:300]}). To work offline, use profile='offline' and set "
                f"TEXTCLASS_DATA_DIR (or the notebook parameter data_dir) to a folder holding "
                f"{s.splits.get(split, name)}, e.g. ../shared/data."
            ) from exc
        if "idx" not in ds.column_names:
            ds = ds.add_column("idx", list(range(len(ds))))
        keep = [c for c in (s.text_column, "label", "idx") if c in ds.column_names]
        if keep != ds.column_names:
            ds = ds.select_columns(keep)
        _note_source(name, split, f"hub {hub_endpoint()} {s.hub_call(split)}")
    else:
        path = local_path(name, split, data_dir)
        if path is None:
            raise ResourceError(
                f"Offline profile, but no data directory is configured for {name}. Set TEXTCLASS_DATA_DIR "
                f"(or the notebook parameter data_dir) to a folder holding {s.splits.get(split, name)}, "
                "e.g. ../shared/data; or use profile='online' where the Hugging Face Hub is reachable."
            )
        ds = datasets.Dataset.from_dict(s.reader(path, split))
        _note_source(name, split, f"local {path}")
    if limit is not None and limit < len(ds):
        ds = ds.select(range(int(limit)))
    return ds


SOURCES: dict[str, str] = {}  # "dataset/split" -> where it was loaded from (hub endpoint + call, or local path)


def _note_source(name: str, split: str, source: str) -> None:
    key = f"{name}/{split}"
    if SOURCES.get(key) != source:
        print(f"data: {key} from {source}")
    SOURCES[key] = source


def load_gold_labels(name: str, split: str, *, data_dir=None, profile: str = "auto") -> list[int]:
    """Gold labels of ``name``/``split`` in Hub row order, from the Hub online or the data directory offline.

    What self-grading compares submissions with. Raises a :class:`ResourceError` saying what to do when neither
    the Hub nor a data directory can be reached.
    """
    resolved = resolve_profile(profile)
    if resolved == "offline" and resolve_data_dir(data_dir) is None:
        raise ResourceError(
            f"Cannot load the gold labels of {name}/{split}: the Hugging Face Hub is not reachable "
            f"({hub_endpoint()}) and no data directory is configured. Connect to the internet (or set HF_ENDPOINT), "
            "or set TEXTCLASS_DATA_DIR to a folder holding the course data, e.g. ../shared/data."
        )
    return [int(x) for x in load_split(name, split, data_dir=data_dir, profile=resolved)["label"]]


def load_sst2(split: str = "validation", **kwargs):
    """GLUE SST-2 (``sentence``, ``label``, ``idx``); see :func:`load_split`."""
    return load_split("sst2", split, **kwargs)


def load_answer_key(path: str | Path) -> dict[int, int]:
    """Read a hidden answer key: a TSV or CSV with columns ``index`` (or ``idx``) and ``label``."""
    path = Path(path)
    if not path.exists():
        raise ResourceError(f"answer key {path} does not exist: put the key there, point AUTOGRADER_KEYS_DIR at the "
                            "instructor's key directory (it holds the key under the same relative path), or pass "
                            "--answer-key FILE")
    with open(path, encoding="utf-8", newline="") as f:
        sample = f.read(2048)
        f.seek(0)
        delimiter = "\t" if "\t" in sample else ","
        rows = list(csv.DictReader(f, delimiter=delimiter))
    if not rows or "label" not in rows[0] or not ({"index", "idx"} & set(rows[0])):
        raise ResourceError(f"answer key {path} needs the columns index (or idx) and label")
    key = "index" if "index" in rows[0] else "idx"
    return {int(r[key]): int(r["label"]) for r in rows}
