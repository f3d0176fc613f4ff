"""Shared fixtures. Tests run offline (./course test sets HF_HUB_OFFLINE=1) against ../shared/data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent



@pytest.fixture(scope="session")
def data_dir() -> Path:
    from textclass.config import default_data_dir

    d = default_data_dir()
    if d is None or not (d / "sst2" / "validation.tsv").exists():
        pytest.fail("no data directory: set TEXTCLASS_DATA_DIR or put the data in ../shared/data")
    return d


@pytest.fixture
def results_tmp(tmp_path, monkeypatch) -> Path:
    """Point result records at a temporary folder so tests never touch results/."""
    d = tmp_path / "results"
    monkeypatch.setenv("TEXTCLASS_RESULTS_DIR", str(d))
    return d


@pytest.fixture(scope="session", autouse=True)
def _records_never_land_in_results(tmp_path_factory):
    """No test (nor a notebook or grader it starts) writes into the repository's results/ folder."""
    old = os.environ.get("TEXTCLASS_RESULTS_DIR")
    os.environ["TEXTCLASS_RESULTS_DIR"] = str(tmp_path_factory.mktemp("results-session"))
    yield
    if old is None:
        os.environ.pop("TEXTCLASS_RESULTS_DIR", None)
    else:
        os.environ["TEXTCLASS_RESULTS_DIR"] = old
