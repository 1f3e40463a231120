"""Serving-cost exports: a model as ONNX (fp32 and int8), and an encoder that runs them.

Only the transformer goes to ONNX (``torch.onnx.export``, TorchScript exporter, opset 17, dynamic batch
and sequence axes, inputs by keyword); Pooling (``mean``, ``mean_sqrt_len_tokens``, ``cls``, ``max``, or
several concatenated) and Normalize are replayed in numpy. Any other module or mode raises
:class:`ModelError` naming it. An export folder holds ``model.onnx``, ``model.int8.onnx`` (see
:func:`_quantize`), the tokenizer and ``embtune_onnx.json`` (pooling, normalisation, max length, prompts,
source fingerprint); it is built in a temp folder beside its target and renamed into place.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core.errors import ModelError, WorkspaceError
from ..core.evaluate import EvalResult, dense_ranking, evaluate_ranking
from ..core.models import fingerprint, load_model
from ..core.sources import Corpus, EvalSet

META = "embtune_onnx.json"
FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
OPSET = 17
POOLING_MODES = ("mean", "mean_sqrt_len_tokens", "cls", "max")
FP32_MIN_COSINE = 0.999  # every text: an fp32 export that misses this is a broken export
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class OnnxExport:
    """One export folder: the ONNX files, the tokenizer beside them and how to pool their output."""

    out_dir: Path
    model_fp32: Path
    model_int8: Path | None
    tokenizer_dir: Path
    pooling: tuple[str, ...]
    normalize: bool
    max_seq_length: int
    dim: int
    prompts: dict[str, str]  # "query" / "document" -> the prompt prepended ("" for none)
    fingerprint: str  # of the source model (embtune_core.core.models.fingerprint)
    opset: int

    @classmethod
    def load(cls, out_dir: str | Path) -> OnnxExport:
        """Read an export folder written by :func:`export_onnx`."""
        out_dir = Path(out_dir)
        try:
            meta = json.loads((out_dir / META).read_text())
            int8 = meta["files"].get("int8")
            return cls(out_dir=out_dir, model_fp32=out_dir / meta["files"]["fp32"],
                       model_int8=out_dir / int8 if int8 else None, tokenizer_dir=out_dir,
                       pooling=tuple(meta["pooling"]), normalize=bool(meta["normalize"]),
                       max_seq_length=int(meta["max_seq_length"]), dim=int(meta["dim"]),
                       prompts=dict(meta["prompts"]), fingerprint=meta["fingerprint"], opset=int(meta["opset"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelError(f"{out_dir} is not an embtune ONNX export ({META}): {type(e).__name__}: {e}") from None


@dataclass(frozen=True)
class ParityReport:
    """Per-text cosine between the torch model's vectors and the export's."""

    n_texts: int
    fp32_min: float
    fp32_mean: float
    int8_min: float | None
    int8_mean: float | None

    @property
    def ok(self) -> bool:  # every text's fp32 cosine reaches FP32_MIN_COSINE
        return self.fp32_min >= FP32_MIN_COSINE


class _TransformerOnly(torch.nn.Module):
    """Positional ONNX inputs -> the transformer called by keyword -> token embeddings."""

    def __init__(self, auto_model: torch.nn.Module, names: list[str]):
        super().__init__()
        self.auto_model, self.names = auto_model, names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.auto_model(**dict(zip(self.names, tensors, strict=True)), return_dict=True).last_hidden_state


def _plan(model) -> tuple[torch.nn.Module, tuple[str, ...], bool]:
    """The transformer, pooling modes and normalize flag of a supported model, or a ModelError."""
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    mods = list(model)
    chain = " -> ".join(type(m).__name__ for m in mods)
    expected = (Transformer, Pooling, Normalize)
    for i, m in enumerate(mods):
        if i >= 3 or not isinstance(m, expected[i]):
            raise ModelError(f"cannot export module {type(m).__name__} (model: {chain}): only "
                             "Transformer -> Pooling [-> Normalize] can be replayed outside torch")
    if len(mods) < 2:
        raise ModelError(f"cannot export {chain or 'an empty model'}: it has no Pooling module")
    transformer, pooling = mods[0], mods[1]
    text = (getattr(transformer, "modality_config", None) or {}).get("text", {"method": "forward"})
    if text.get("method") != "forward" or text.get("method_output_name", "last_hidden_state") != "last_hidden_state":
        raise ModelError(f"cannot export Transformer with text modality {text}: only forward -> last_hidden_state")
    modes = (pooling.pooling_mode,) if isinstance(pooling.pooling_mode, str) else tuple(pooling.pooling_mode)
    bad = [m for m in modes if m not in POOLING_MODES]
    if bad:
        raise ModelError(f"cannot export Pooling mode {', '.join(bad)}: supported are {', '.join(POOLING_MODES)}")
    if not getattr(pooling, "include_prompt", True) and any((model.prompts or {}).values()):
        raise ModelError("cannot export Pooling(include_prompt=False) with prompts: prompt exclusion is not replayed")
    if len(mods) == 3 and mods[2].module_input_name != "sentence_embedding":
        raise ModelError(f"cannot export Normalize of {mods[2].module_input_name!r}: only sentence_embedding")
    return transformer.auto_model, modes, len(mods) == 3


def _prompt(model, kind: str) -> str:
    """The prompt sentence-transformers' encode_query / encode_document prepend for ``kind``."""
    prompts = model.prompts or {}
    return (prompts[kind] if kind in prompts else prompts.get(model.default_prompt_name or "", "")) or ""


def export_onnx(model_or_path, out_dir: str | Path, *, quantize: bool = True) -> OnnxExport:
    """Export a SentenceTransformer (or a model name / path) to ``out_dir``, atomically.

    ``out_dir`` is replaced when it is an earlier export and refused when it holds anything else.
    """
    model = load_model(str(model_or_path), device="cpu") if isinstance(model_or_path, str | Path) else model_or_path
    auto_model, pooling, normalize = _plan(model)
    meta = {"format": 1, "files": {"fp32": FILES["fp32"], "int8": FILES["int8"] if quantize else None},
            "pooling": list(pooling), "normalize": normalize, "max_seq_length": int(model.max_seq_length),
            "dim": int(model.get_embedding_dimension()), "prompts": {k: _prompt(model, k) for k in ("query", "document")},
            "fingerprint": fingerprint(model), "opset": OPSET}
    with _atomic_dir(Path(out_dir)) as tmp:
        try:
            _export_transformer(auto_model, model.tokenizer, tmp / FILES["fp32"])
            if quantize:
                _quantize(tmp / FILES["fp32"], tmp / FILES["int8"])
        except Exception as e:  # noqa: BLE001 - the exporter and onnxruntime raise many kinds
            raise ModelError(f"cannot export {getattr(model, 'embtune_name', 'the model')} to ONNX: "
                             f"{type(e).__name__}: {e}") from None
        model.tokenizer.save_pretrained(str(tmp))
        (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return OnnxExport.load(out_dir)


def _export_transformer(auto_model: torch.nn.Module, tokenizer, path: Path) -> None:
    # a padded two-row sample; the trace keeps the attention mask either way, but never rely on that
    sample = tokenizer(["embtune export", "a longer sample sentence so that the batch needs padding"],
                       padding=True, return_tensors="pt")
    accepted = inspect.signature(auto_model.forward).parameters
    names = [n for n in _INPUTS if n in sample and n in accepted]
    device = next(auto_model.parameters()).device
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "token_embeddings"]}
    with warnings.catch_warnings():  # benign here, and parity-checked: shape-dependent Python branches,
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # the legacy-exporter notice,
        warnings.filterwarnings("ignore", message=r".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message=r"The feature will be removed")
        warnings.filterwarnings("ignore", message=r"Exporting aten::index operator")  # non-negative indices
        torch.onnx.export(_TransformerOnly(auto_model, names), tuple(sample[n].to(device) for n in names),
                          str(path), input_names=names, output_names=["token_embeddings"], dynamic_axes=axes,
                          opset_version=OPSET, dynamo=False, do_constant_folding=True)


def _quantize(src: Path, dst: Path) -> None:
    """Dynamic quantisation: int8 weights, per output channel, of the embedding tables and attention projections.

    The feed-forward MatMuls (by a non-square constant) stay fp32: onnxruntime quantises activations per
    tensor at run time and the wide GELU activations' outliers cost too much there (MiniLM, vs torch: mean
    cosine 0.994 with them, 0.9987 without; per-tensor weights: 0.96). ORT's suggested pre-processing fails
    symbolic shape inference on BERT and changed nothing measured, so its hint is dropped.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(src)).graph
    dims = {t.name: tuple(t.dims) for t in graph.initializer}
    ffn = [n.name for n in graph.node if n.op_type == "MatMul" and len(d := dims.get(n.input[1], ())) == 2
           and d[0] != d[1]]
    hint = lambda record: "pre-processing before quantization" not in record.getMessage()  # noqa: E731
    logging.getLogger().addFilter(hint)
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=ffn)
    finally:
        logging.getLogger().removeFilter(hint)


@contextlib.contextmanager
def _atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temp folder beside ``target``; on success, its files are fsync'd and it replaces ``target``."""
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / META).exists())):
        raise WorkspaceError(f"{target} exists and is not an embtune ONNX export: not overwriting it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    old = None
    try:
        yield tmp
        for f in (f for f in tmp.rglob("*") if f.is_file()):
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o755)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except OSError:
            if old is not None:  # put the previous export back
                os.replace(old, target)
                old = None
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _pool(tokens: np.ndarray, mask: np.ndarray, modes: tuple[str, ...], normalize: bool) -> np.ndarray:
    """sentence-transformers' Pooling (and Normalize) on one padded batch, in numpy."""
    m = mask[..., None].astype(np.float32)
    parts = []
    for mode in modes:
        if mode == "cls":
            parts.append(tokens[np.arange(len(tokens)), mask.argmax(1)])
        elif mode == "max":
            parts.append(np.where(m > 0, tokens, -np.inf).max(1))
        else:
            n = np.clip(m.sum(1), 1e-9, None)
            parts.append((tokens * m).sum(1) / (n if mode == "mean" else np.sqrt(n)))
    v = np.concatenate(parts, axis=1).astype(np.float32)
    return _l2(v) if normalize else v


def _l2(v: np.ndarray) -> np.ndarray:
    return (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32)


class OnnxEncoder:
    """Encodes with an export as :class:`~embtune_core.core.embeddings.Encoder` does with the torch model.

    ``encode(texts, kind)`` prepends the model's prompt for ``kind``, tokenizes like sentence-transformers
    (longest-in-batch padding, truncation at ``max_seq_length``, batches sorted by length), runs
    onnxruntime on the CPU and pools / normalises in numpy. It is the ``encode(texts, kind, progress=)``
    that :func:`~embtune_core.core.evaluate.encode_and_rank` calls; :func:`evaluate_onnx` evaluates it.
    """

    def __init__(self, path_or_dir: str | Path | OnnxExport, *, variant: str = "fp32", threads: int | None = None,
                 batch_size: int = 64):
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.export = path_or_dir if isinstance(path_or_dir, OnnxExport) else OnnxExport.load(path_or_dir)
        if variant not in FILES:
            raise ModelError(f"unknown ONNX variant {variant!r}: use one of {', '.join(FILES)}")
        path = self.export.model_fp32 if variant == "fp32" else self.export.model_int8
        if path is None or not path.exists():
            raise ModelError(f"{self.export.out_dir} has no {variant} model" +
                             (" (it was exported with quantize=False)" if path is None else ""))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads or 0, 1
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.export.tokenizer_dir))
        except Exception as e:  # noqa: BLE001 - onnxruntime and transformers raise many kinds
            raise ModelError(f"cannot load ONNX export {path}: {type(e).__name__}: {e}") from None
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.variant, self.batch_size, self.path = variant, batch_size, path
        self.name = f"onnx-{variant}"
        self.max_seq_length = self.export.max_seq_length
        self.fingerprint = f"{self.export.fingerprint}-onnx-{variant}"

    def encode(self, texts: list[str], kind: str = "document", progress: Callable[[int, int], None] | None = None,
               *, batch_size: int | None = None) -> np.ndarray:
        """float32 ``(len(texts), dim)`` embeddings, normalised when the source model normalises."""
        prompt = self.export.prompts.get(kind, "")
        texts = [prompt + t for t in texts]
        bs = batch_size or self.batch_size
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.export.dim), dtype=np.float32)
        for s in range(0, len(texts), bs):
            idx = order[s:s + bs]
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                 max_length=self.max_seq_length, return_tensors="np")
            tokens = self.session.run(None, {n: enc[n].astype(np.int64) for n in self.inputs})[0]
            out[idx] = _pool(tokens, enc["attention_mask"], self.export.pooling, self.export.normalize)
            if progress:
                progress(min(s + bs, len(texts)), len(texts))
        return out


def evaluate_onnx(encoder: OnnxEncoder, corpus: Corpus, evalset: EvalSet, *, name: str = "",
                  progress: Callable[[int, int], None] | None = None) -> EvalResult:
    """Evaluate an export exactly as :func:`~embtune_core.core.evaluate.evaluate_model` evaluates a model."""
    units = _l2(encoder.encode(corpus.unit_texts(), "document", progress))  # evaluate_model always normalises
    queries = _l2(encoder.encode(list(evalset.queries.values()), "query"))
    ranking = dense_ranking(queries, units, corpus, evalset)
    return evaluate_ranking(ranking, evalset, name=name or encoder.name, n_docs=corpus.docs.height)


def check_parity(model, export: OnnxExport | str | Path, texts: list[str], *, kind: str = "document",
                 batch_size: int = 64) -> ParityReport:
    """Per-text cosine of the torch model's vectors (as embtune encodes them) to the fp32 and int8 exports'."""
    from ..core.embeddings import Encoder

    export = export if isinstance(export, OnnxExport) else OnnxExport.load(export)
    fp = fingerprint(model)
    if fp != export.fingerprint:
        raise ModelError(f"{export.out_dir} was exported from model {export.fingerprint}, not this one ({fp})")
    ref = Encoder(model, batch_size=batch_size, model_fingerprint=fp).encode(list(texts), kind)
    stats: dict[str, tuple[float | None, float | None]] = {"int8": (None, None)}
    for variant in ("fp32", "int8") if export.model_int8 else ("fp32",):
        got = _l2(OnnxEncoder(export, variant=variant, batch_size=batch_size).encode(list(texts), kind))
        cos = (got * ref).sum(axis=1)
        stats[variant] = (float(cos.min()), float(cos.mean()))
    return ParityReport(n_texts=len(texts), fp32_min=stats["fp32"][0], fp32_mean=stats["fp32"][1],
                        int8_min=stats["int8"][0], int8_mean=stats["int8"][1])
