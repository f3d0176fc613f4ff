"""``python -m tools data [--out DIR] [NAME...]``: the course's offline data folder, built once where the Hub answers.

The offline profile reads its data from a folder (``TEXTCLASS_DATA_DIR``, else ``../shared/data``) with one
sub-folder per dataset, in the files ``textclass.data`` reads (``sst2/train.tsv``, ``banking77/test.jsonl``, ...).
This verb makes that folder from the Hugging Face Hub with ``datasets.load_dataset``, the same calls the online
profile makes (``textclass.data.DATASETS``), so that a laptop can take the course on a train or a classroom can
work without the Hub. Every file is read back with the offline reader and compared with what the Hub gave, row by
row, before its folder is kept; each folder gets a ``SOURCE.md`` (Hub id, config, revision, date).

Nothing is overwritten: a dataset whose folder exists already is left as it is (a second run completes an
interrupted one), and each folder is written under a temporary name and renamed when it is whole.
Not from the Hub: SST-2's test labels (GLUE keeps them hidden; the Hub's test rows carry label -1). The course's
``improve-test`` stage grades with an instructor's answer key, which a learner's folder does not need.
"""
from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
from pathlib import Path

from tools import REPO_ROOT, UsageError


def _folder(spec) -> str:
    """The dataset's sub-folder of the data directory (the first part of its split paths)."""
    return next(iter(spec.splits.values())).split("/")[0]


def _write_split(spec, split: str, rows: dict, path: Path) -> None:
    """One split (``rows``: text, label and idx lists) in the file format the offline reader of ``spec`` reads."""
    texts, labels = rows["text"], rows["label"]
    if path.suffix == ".tsv":  # GLUE's own tsv files: no quoting, so no tab or line break inside a sentence
        bad = next((t for t in texts if "\t" in t or "\n" in t or "\r" in t), None)
        if bad is not None:
            raise UsageError(f"{spec.hub_id} {split}: a sentence holds a tab or a line break ({bad[:60]!r}); "
                             "GLUE's tsv format cannot hold it")
        if split == "test":
            lines = ["index\tsentence"] + [f"{i}\t{t}" for i, t in zip(rows["idx"], texts)]
        else:
            lines = ["sentence\tlabel"] + [f"{t}\t{y}" for t, y in zip(texts, labels)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    else:
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            for t, y in zip(texts, labels):
                fh.write(json.dumps({spec.text_column: t, "label": y}, ensure_ascii=False) + "\n")


def _revision(spec) -> str:
    """The commit of the Hub repository the data came from ('unknown' when the Hub does not say)."""
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(spec.hub_id, revision=spec.hub_kwargs.get("revision")).sha or "unknown"
    except Exception:  # noqa: BLE001 -- the data came; its provenance is a nicety
        return "unknown"


def build_dataset(name: str, out: Path) -> str:
    """Write dataset ``name`` into ``out/<folder>``; returns a line saying what was written."""
    import datasets

    from textclass import data
    from textclass.config import hub_endpoint

    spec = data.spec(name)
    final = out / _folder(spec)
    if final.exists():
        return f"{name}: {final} exists already: left as it is"
    tmp = final.with_name(final.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    created = not out.exists()   # a folder this run made is removed again if nothing lands in it
    tmp.mkdir(parents=True)
    try:
        counts, names = [], None
        revision = _revision(spec)   # asked first, then loaded at that commit: SOURCE.md names the data's own
        kwargs = spec.hub_kwargs | ({"revision": revision} if revision != "unknown" else {})
        for split, rel in spec.splits.items():
            try:
                ds = datasets.load_dataset(*spec.hub, split=split, **kwargs)
            except Exception as exc:  # noqa: BLE001 -- no network, an offline switch, the Hub down
                raise UsageError(f"could not {spec.hub_call(split)} from the Hub at {hub_endpoint()} "
                                 f"({type(exc).__name__}: {str(exc)[:200]}). Run this where the Hugging Face Hub "
                                 "answers (or HF_ENDPOINT points at a mirror), with HF_HUB_OFFLINE and "
                                 "HF_DATASETS_OFFLINE unset") from None
            expected = spec.rows.get(split)
            if expected is not None and len(ds) != expected:
                raise UsageError(f"{spec.hub_call(split)} gave {len(ds):,} rows where the course's copy has "
                                 f"{expected:,}: not the data the course's numbers were measured on (another "
                                 "revision of the repository?); nothing written for it")
            hub = {"text": list(ds[spec.text_column]), "label": [int(x) for x in ds["label"]],
                   "idx": list(ds["idx"]) if "idx" in ds.column_names else list(range(len(ds)))}
            path = tmp / Path(rel).relative_to(_folder(spec))
            _write_split(spec, split, hub, path)
            back = spec.reader(path, split)   # read back as the offline profile reads it: the same rows
            if (back[spec.text_column], back["label"], back["idx"]) != (hub["text"], hub["label"], hub["idx"]):
                raise UsageError(f"{name} {split}: the file written does not read back as the Hub's rows"
                                 + (" (SST-2's test rows carry labels here: GLUE's test file has none)"
                                    if name == "sst2" and split == "test" and set(hub["label"]) != {-1} else ""))
            counts.append(f"{split} {len(ds):,}")
            names = names or data.hub_label_names(ds)
        if not spec.label_names:   # label names the offline profile cannot know otherwise (banking77)
            if not names:
                raise UsageError(f"{spec.hub_id}: the Hub gave no label names")
            if any(n != n.strip() or not n or " " in n or "\t" in n for n in names):
                raise UsageError(f"{spec.hub_id}: a label name holds a space; hf_label_names.txt cannot hold it")
            (tmp / "hf_label_names.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
        (tmp / "SOURCE.md").write_text(
            f"# {name}, from the Hugging Face Hub\n\n"
            f"Written by `python -m tools data` (`./course data`) on {datetime.date.today().isoformat()} from "
            f"{hub_endpoint()}: `{spec.hub_call('<split>')}`, repository revision `{revision}`.\n"
            f"Rows: {', '.join(counts)}; every file was read back with `textclass.data`'s offline reader and matched "
            "the Hub's rows.\n" + ("\nNot here: SST-2's test labels. GLUE keeps them hidden (the Hub's test rows "
                                   "carry label -1); `improve-test` is graded with an instructor's answer key.\n"
                                   if name == "sst2" else ""), encoding="utf-8")
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()   # an empty ../shared/data would pass for a data folder
        raise
    return f"{name}: {', '.join(counts)} -> {final} ({spec.hub_id} @ {revision[:12]})"


def main(argv=None) -> int:
    from textclass import config, data

    default = config.default_data_dir() or REPO_ROOT.parent / "shared" / "data"   # (the latter when it is not there yet)
    ap = argparse.ArgumentParser(prog="python -m tools data", description=__doc__.splitlines()[0].split(": ", 1)[1])
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"datasets (default: all: {', '.join(data.DATASETS)})")
    ap.add_argument("--out", default=str(default),
                    help=f"the data folder (default: TEXTCLASS_DATA_DIR, else ../shared/data: {default})")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in data.DATASETS]
    if unknown:
        print(f"python -m tools data: unknown dataset {unknown[0]!r}; known: {', '.join(data.DATASETS)}",
              file=sys.stderr)
        return 2
    out = Path(args.out).expanduser().resolve()   # (./course runs from the checkout: the path it prints is absolute)
    if out.exists() and not out.is_dir():
        print(f"python -m tools data: {out} is a file, not a folder: pass another --out", file=sys.stderr)
        return 2
    try:
        for name in args.names or data.DATASETS:
            print(build_dataset(name, out), flush=True)
    except UsageError as exc:
        print(f"python -m tools data: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:   # a read-only or full disk, a path that is not a folder
        print(f"python -m tools data: cannot write under {out} ({exc}): pass another --out", file=sys.stderr)
        return 2
    print(f"offline: export TEXTCLASS_DATA_DIR={out}" + ("" if out == default.resolve() else
                                                         "   (or pass the notebooks' data_dir parameter)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
