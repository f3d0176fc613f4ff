"""Quantization-aware training simulates onnxruntime's int8 copy (textclass.onnx.simulated_int8).

Inside ``simulated_int8(model)`` a torch model must compute what ``quantize_int8``'s per-column 7-bit copy of its
ONNX export computes in onnxruntime -- to float rounding, far closer than the fp32 model is to that copy -- while
gradients still reach the fp32 weights (straight-through), and on leaving the model must be its fp32 self again.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

from textclass import onnx as tc_onnx  # noqa: E402


def _mlp(seed=0):
    torch.manual_seed(seed)
    # three-dimensional inputs (batch, tokens, width), as a transformer's: each Linear exports as MatMul + Add
    return torch.nn.Sequential(torch.nn.Linear(32, 48), torch.nn.GELU(), torch.nn.Linear(48, 24),
                               torch.nn.LayerNorm(24), torch.nn.Linear(24, 8)).eval()


def _ort_copy(model, tmp_path, per_channel=True, bits=7, example=(2, 5, 32)):
    """onnxruntime's int8 copy of ``model`` exported on an input of shape ``example`` (every axis but the last
    dynamic): a function of a torch tensor returning numpy."""
    import onnxruntime as ort

    src, dst = tmp_path / "m.onnx", tmp_path / f"m-int8-{bits}-{per_channel}.onnx"
    axes = {i: f"d{i}" for i in range(len(example) - 1)}
    torch.onnx.export(model, (torch.zeros(*example),), str(src), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": axes, "y": axes}, opset_version=17, dynamo=False)
    tc_onnx.quantize_int8(src, dst, per_channel=per_channel, reduce_range=bits == 7)
    session = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x.numpy()})[0]


@pytest.mark.parametrize("per_channel", [True, False])
def test_simulation_computes_what_the_onnxruntime_copy_computes(tmp_path, per_channel):
    model = _mlp()
    run = _ort_copy(model, tmp_path, per_channel=per_channel)
    x = torch.randn(3, 7, 32, generator=torch.Generator().manual_seed(1)) * 2 + 0.5
    with torch.no_grad():
        fp32 = model(x).numpy()
        with tc_onnx.simulated_int8(model, per_channel=per_channel):
            simulated = model(x).numpy()
        again = model(x).numpy()
    copy = run(x)
    off_fp32 = np.abs(fp32 - copy).max()
    off_sim = np.abs(simulated - copy).max()
    assert off_fp32 > 1e-3                 # the copy rounds: otherwise the comparison shows nothing
    assert off_sim < off_fp32 / 20, (off_sim, off_fp32)
    assert np.array_equal(again, fp32)     # leaving the context restores every layer's fp32 forward


def test_per_column_and_per_matrix_scales_differ_and_each_matches_only_its_own_copy(tmp_path):
    model = _mlp(seed=3)
    x = torch.randn(2, 9, 32, generator=torch.Generator().manual_seed(4))
    per_column = _ort_copy(model, tmp_path, per_channel=True)(x)
    with torch.no_grad(), tc_onnx.simulated_int8(model, per_channel=False):
        per_matrix_sim = model(x).numpy()
    with torch.no_grad(), tc_onnx.simulated_int8(model, per_channel=True):
        per_column_sim = model(x).numpy()
    assert np.abs(per_column_sim - per_column).max() < np.abs(per_matrix_sim - per_column).max() / 5


def test_eight_bit_simulation_uses_127_levels():
    w = torch.tensor([[1.0, -0.5, 0.26, 0.01]])
    assert torch.allclose(tc_onnx.simulate_int8_weight(w, bits=7), torch.round(w * 64) / 64)
    assert torch.allclose(tc_onnx.simulate_int8_weight(w, bits=8), torch.round(w * 127) / 127)
    with pytest.raises(ValueError, match="7 or 8"):
        tc_onnx.simulated_int8(torch.nn.Linear(2, 2), bits=4)


def test_gradients_pass_straight_through_to_the_fp32_weights():
    model = _mlp()
    x = torch.randn(2, 3, 32)
    with tc_onnx.simulated_int8(model):
        model(x).pow(2).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(g.abs().sum() > 0 for g in grads)
    weight = model[0].weight.detach().clone()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(weight, model[0].weight)    # the fp32 weights train, not a rounded copy of them


def test_zero_tensor_and_constant_inputs_stay_finite():
    assert torch.equal(tc_onnx.simulate_uint8_activation(torch.zeros(4)), torch.zeros(4))
    assert torch.isfinite(tc_onnx.simulate_int8_weight(torch.zeros(3, 3))).all()
    out = tc_onnx.simulate_uint8_activation(torch.full((2, 2), 3.0))
    assert torch.allclose(out, torch.full((2, 2), 3.0), atol=3 / 255)


def test_a_head_on_a_pooled_vector_is_quantized_too(tmp_path):
    """A Linear on a 2-D input exports as Gemm, which onnxruntime's dynamic quantization turns into MatMulInteger
    as well: the student's head is rounded in its copy, so the simulation rounds it too."""
    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(32, 48), torch.nn.Tanh(), torch.nn.Linear(48, 2)).eval()
    x = torch.randn(6, 32, generator=torch.Generator().manual_seed(6))
    copy = _ort_copy(model, tmp_path, example=(2, 32))(x)
    with torch.no_grad():
        fp32 = model(x).numpy()
        with tc_onnx.simulated_int8(model):
            simulated = model(x).numpy()
    assert np.abs(simulated - copy).max() < np.abs(fp32 - copy).max() / 20


def test_leaving_puts_back_what_was_there():
    model = _mlp()
    x = torch.randn(1, 2, 32)
    marker = model[0].forward = lambda inp: torch.nn.functional.linear(inp, model[0].weight, model[0].bias) * 0
    with tc_onnx.simulated_int8(model):
        with tc_onnx.simulated_int8(model, bits=8):      # nested: the inner one leaves the outer's in place
            pass
        assert model[0].forward is not marker and "forward" in model[2].__dict__
    assert model[0].forward is marker and "forward" not in model[2].__dict__
    with pytest.raises(RuntimeError), tc_onnx.simulated_int8(model):
        raise RuntimeError("a failed step")
    assert model[0].forward is marker and "forward" not in model[4].__dict__  # restored after an exception too
    del model[0].forward
    assert torch.equal(model(x), _mlp()(x))


def test_a_model_without_linear_layers_is_refused():
    with pytest.raises(ValueError, match="no torch.nn.Linear"):
        with tc_onnx.simulated_int8(torch.nn.Sequential(torch.nn.ReLU())):
            pass
