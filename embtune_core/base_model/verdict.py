"""Step 1's verdict: what to do next, said from the user's own numbers, and the retriever to carry forward.

The rules compare the base model (dense), BM25 and their hybrid on the same eval queries with paired
bootstrap deltas (:func:`~..core.stats.paired_delta`), so "BM25 beats the model" is only said when the
interval says so:

- the **retriever to carry forward** is the hybrid when it is credibly better than the dense model on
  Recall@5 or MRR@10 (95% lower bound > 0) and not credibly worse on the other; else the dense model;
- BM25 credibly ahead of the model: keep lexical in the loop and fuse it with the tuned model;
- Recall@20 high but Recall@5 low: the right article is found but ranked low;
- Recall@20 low: the vocabulary gap fine-tuning closes;
- the production retriever, when configured, is put against the base model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..core.evaluate import EvalResult
from ..core.retrievers import RetrieverSpec
from ..core.stats import PairedDelta, paired_by_query

#: At or above this Recall@20 the right article is "usually retrieved".
FOUND_AT_20 = 0.85


@dataclass(frozen=True)
class Verdict:
    """What step 1 recommends. ``carry_forward`` is a retriever spec over the base model."""

    carry_forward: str
    headline: str
    advice: list[str]
    deltas: dict[str, dict]

    def as_dict(self) -> dict:
        return asdict(self)

    def markdown(self) -> str:
        return f"**{self.headline}**\n\n" + "\n".join(f"- {a}" for a in self.advice)


def _delta(base: EvalResult, other: EvalResult, metric: str) -> PairedDelta:
    return paired_by_query(base.per_query, other.per_query, metric)


def _fmt(d: PairedDelta) -> str:
    return f"{d.delta:+.2f} {d.metric.replace('recall', 'Recall').replace('mrr', 'MRR')} [{d.ci_low:+.2f}, {d.ci_high:+.2f}]"


def recommend(base_model: str, dense: EvalResult, lexical: EvalResult, hybrid: EvalResult,
              production: EvalResult | None = None) -> Verdict:
    """The verdict for the project's base model ``base_model`` from its three evaluations."""
    d = {name: {m: _delta(dense, other, m) for m in ("recall@5", "mrr@10")}
         for name, other in (("bm25", lexical), ("hybrid", hybrid))}
    h5, hm = d["hybrid"]["recall@5"], d["hybrid"]["mrr@10"]
    hybrid_wins = (h5.ci_low > 0 and hm.ci_low > -0.01) or (hm.ci_low > 0 and h5.ci_low > -0.01)
    carry = RetrieverSpec("hybrid", base_model) if hybrid_wins else RetrieverSpec("dense", base_model)
    advice = []
    b5, bm = d["bm25"]["recall@5"], d["bm25"]["mrr@10"]
    if b5.ci_low > 0 or bm.ci_low > 0:
        advice.append(f"BM25 already beats {base_model} on your queries ({_fmt(b5)}, {_fmt(bm)}): your users "
                      "search with the words your docs use. Keep lexical in the loop: fuse BM25 with the tuned model.")
    elif b5.ci_high < 0 and bm.ci_high < 0:
        advice.append(f"{base_model} beats BM25 on your queries ({_fmt(b5)}, {_fmt(bm)}): your users' words differ "
                      "from your docs' words — the gap fine-tuning closes.")
    else:
        advice.append(f"BM25 and {base_model} are level on your queries ({_fmt(b5)}, {_fmt(bm)}): they find "
                      "different articles, which is what fusing them exploits.")
    if hybrid_wins:
        advice.append(f"Fusing the two (reciprocal rank fusion) beats the model alone ({_fmt(h5)}, {_fmt(hm)}): "
                      f"carry `{carry}` forward; step 5 compares the tuned model alone and fused.")
    else:
        advice.append(f"Fusion does not credibly beat the model alone ({_fmt(h5)}, {_fmt(hm)}): carry the dense "
                      f"model `{carry}` forward; step 5 still measures the tuned hybrid.")
    r5, r20 = dense.metrics["recall@5"], dense.metrics["recall@20"]
    if r20 >= FOUND_AT_20 and r5 < 0.7:
        advice.append(f"Recall@20 is {r20:.2f} and Recall@5 {r5:.2f}: the right article is found but ranked low. "
                      "Fine-tuning (or a re-ranker) moves it up.")
    elif r20 < FOUND_AT_20:
        advice.append(f"Recall@20 is {r20:.2f}: for one query in {max(2, round(1 / max(1 - r20, 1e-9)))} the "
                      "right article is not even in the top 20 — a vocabulary gap no re-ranker can fix. "
                      "Fine-tune the embedder (step 2 next).")
    else:
        advice.append(f"Recall@5 is {r5:.2f} and Recall@20 {r20:.2f}: retrieval is already strong; fine-tune only "
                      "for the queries people complain about.")
    if production is not None:
        p = _delta(production, dense, "recall@5")
        word = "beats" if p.ci_low > 0 else "trails" if p.ci_high < 0 else "matches"
        advice.append(f"Against what runs today ({production.name}), {base_model} {word} it ({_fmt(p)}).")
    best = max((("dense", dense), ("bm25", lexical), ("hybrid", hybrid)), key=lambda t: t[1].metrics["recall@5"])
    headline = (f"Carry `{carry}` forward. Best today: {best[1].name} at Recall@5 "
                f"{best[1].metrics['recall@5']:.2f}.")
    deltas = {f"{name}_vs_dense": {m: x.as_row() for m, x in ms.items()} for name, ms in d.items()}
    return Verdict(carry_forward=str(carry), headline=headline, advice=advice, deltas=deltas)

