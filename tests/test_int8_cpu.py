"""An int8 copy computes the same integer products on every x86 CPU (textclass.onnx.quantize_int8).

onnxruntime's int8 matrix product multiplies uint8 activations by int8 weights. With AVX512-VNNI or AVX-VNNI the
products are summed exactly in 32 bits; on a CPU with AVX2 and no VNNI (many AMD EPYCs, older Intel Xeons) the
kernel adds two neighbouring products in a *saturating* 16-bit step, so 255 x 127 + 255 x 127 is cut to 32,767
and an 8-bit copy's logits, and its predictions, are its CPU's. Weights of 7 bits (``reduce_range``, -64..64:
255 x 64 x 2 < 32,767) never reach that limit. Level 5's 8-bit copy, run on an emulated Haswell, called 85.9% of
the validation sentences it saw positive (results/improve-offline-full-int8-notebook-8bit-121eb23-haswell.json).

The checks compare onnxruntime's output with the exact integer product computed in numpy, here and, where
``qemu-x86_64`` is installed (Debian's qemu-user; .ci/run installs it), on an emulated Haswell: AVX2 without VNNI.
The 8-bit copy on that emulated CPU must *differ* from the exact product, or the check could not fail.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
onnx_pkg = pytest.importorskip("onnx")

from textclass import onnx as tc_onnx  # noqa: E402

K, M = 64, 16
# run the model in a fresh interpreter, which qemu can start under another CPU
RUN = """
import sys, numpy as np, onnxruntime as ort
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
np.save(sys.argv[3], s.run(None, {"x": np.load(sys.argv[2])})[0])
"""

# the int8-relevant instruction flags numpy sees in the process (under qemu: the emulated CPU's)
FLAGS = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[1] / "scripts")!r})
from int8_on_cpu import cpu_flags
print(" ".join(cpu_flags()))
"""


def _matmul_model(path, rng):
    from onnx import TensorProto, helper, numpy_helper

    w = rng.normal(size=(K, M)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, K])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, M])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx_pkg.save(model, str(path))


def _exact(quantized_path, x):
    """What the quantized MatMul computes with exact integers: onnxruntime's DynamicQuantizeLinear of ``x``
    (uint8, asymmetric), times the stored int8 weights, both scales applied once at the end."""
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in onnx_pkg.load(str(quantized_path)).graph.initializer}
    wq = next(v for k, v in init.items() if v.dtype == np.int8 and v.ndim == 2).astype(np.int64)
    w_scale = next(v for k, v in init.items() if k.endswith("_scale")).astype(np.float32)
    w_zero = next(v for k, v in init.items() if k.endswith("_zero_point")).astype(np.int64)
    lo, hi = min(0.0, float(x.min())), max(0.0, float(x.max()))
    scale = np.float32((hi - lo) / 255)
    zero = int(np.clip(np.rint(-lo / scale), 0, 255))
    xq = np.clip(np.rint(x / scale) + zero, 0, 255).astype(np.int64)
    acc = (xq - zero) @ (wq - w_zero)
    return acc.astype(np.float64) * float(scale) * w_scale.astype(np.float64)


def _run(model, x, tmp_path, prefix=()):
    xs, out = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(xs, x)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([*prefix, sys.executable, "-c", RUN, str(model), str(xs), str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return np.load(out)


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """A float MatMul and its two int8 copies: the course's (7-bit weights) and an 8-bit one; activations all
    positive so that they quantize to values near 255, where the 16-bit step saturates."""
    tmp = tmp_path_factory.mktemp("int8")
    rng = np.random.default_rng(0)
    _matmul_model(tmp / "fp32.onnx", rng)
    x = rng.uniform(0.5, 1.0, size=(32, K)).astype(np.float32)
    seven = tc_onnx.quantize_int8(tmp / "fp32.onnx", tmp / "int8.onnx", per_channel=True)
    eight = tc_onnx.quantize_int8(tmp / "fp32.onnx", tmp / "int8-8bit.onnx", per_channel=True, reduce_range=False)
    return tmp, x, seven, eight


def _close(a, b):
    return np.allclose(a, b, rtol=1e-5, atol=1e-4 * float(np.abs(b).max()))


def test_course_int8_copy_has_7_bit_weights(copies):
    from onnx import numpy_helper

    _, _, seven, eight = copies
    for path, top in [(seven, 64), (eight, 127)]:
        weights = [numpy_helper.to_array(t) for t in onnx_pkg.load(path).graph.initializer
                   if numpy_helper.to_array(t).dtype == np.int8]
        assert weights and max(int(np.abs(w.astype(np.int64)).max()) for w in weights) == top, path


def test_int8_copy_is_the_exact_integer_product_on_this_cpu(copies, tmp_path):
    _, x, seven, _ = copies
    got = _run(seven, x, tmp_path)
    assert _close(got, _exact(seven, x)), np.abs(got - _exact(seven, x)).max()


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64") or not shutil.which("qemu-x86_64"),
                    reason="needs qemu-x86_64 (Debian: apt-get install qemu-user) on an x86_64 machine")
def test_int8_copy_is_the_same_on_avx2_without_vnni(copies, tmp_path):
    _, x, seven, eight = copies
    haswell = ("qemu-x86_64", "-cpu", "Haswell")
    probe = subprocess.run([*haswell, sys.executable, "-c", FLAGS], capture_output=True, text=True, timeout=300)
    if probe.returncode != 0 or "AVX2" not in probe.stdout.split():
        pytest.skip(f"this qemu does not emulate AVX2 (7.2 and newer do): {probe.stdout.strip() or probe.stderr[-300:]}")
    assert "AVX512VNNI" not in probe.stdout.split()
    got = _run(seven, x, tmp_path, haswell)
    assert _close(got, _exact(seven, x)), np.abs(got - _exact(seven, x)).max()
    # the 8-bit copy saturates there: proof that this emulated CPU takes the AVX2 path the check is about
    eight_there = _run(eight, x, tmp_path, haswell)
    assert not _close(eight_there, _exact(eight, x)), "the 8-bit copy did not saturate on the emulated Haswell"


def test_on_a_cpu_with_avx2_and_no_vnni_the_8_bit_copy_saturates_natively(copies, tmp_path):
    """On real hardware of that kind the 8-bit copy differs from the exact product natively, and the 7-bit copy
    does not. A 2-core AMD EPYC with AVX2 and no VNNI ran the course on 2026-12-05: its 8-bit per-column student
    copies scored 57.45% and 58.37% (results/improve-offline-full-student-mpnet6-allphrases-seed7-requantized.json)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from int8_on_cpu import cpu_flags

    flags = cpu_flags()
    if "AVX2" not in flags or any("VNNI" in f for f in flags) or "AVX512BW" in flags:
        pytest.skip(f"this CPU's int8 flags are {flags}: the check needs AVX2 without VNNI or AVX-512")
    _, x, seven, eight = copies
    assert _close(_run(seven, x, tmp_path), _exact(seven, x))
    assert not _close(_run(eight, x, tmp_path), _exact(eight, x)), "the 8-bit copy did not saturate on this CPU"
