import dataclasses
import json

import polars as pl
import pytest

from embtune_core.core.errors import ConfigError, InputError
from embtune_core.train import TrainConfig, TrainState, diagnose, load_pairs, prepare, train


def sample_pairs(project, n=None):
    s = project.corpus.sections
    titles = project.corpus.titles()
    rows = [{"query": (h or titles[d]).lower(), "positive": t, "doc_id": d, "source": "docs"}
            for h, t, d in zip(s["heading"], s["text"], s["doc_id"], strict=True)]
    rows += [{"query": f"how to {titles[d].lower()}", "positive": t, "doc_id": d, "source": "llm"}
             for h, t, d in zip(s["heading"], s["text"], s["doc_id"], strict=True) if not h]
    return pl.DataFrame(rows[:n] if n else rows)


def write_pairs(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_config_rejects_half_precision_on_cpu_and_picks_cpu_defaults():
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        TrainConfig(precision="fp16")
    with pytest.raises(ConfigError, match="batch_size must be >= 2"):
        TrainConfig(batch_size=1)
    with pytest.raises(ConfigError, match="train.loss must be one of"):
        TrainConfig(loss="triplet")
    with pytest.raises(ConfigError, match="train.contrast"):
        TrainConfig(contrast="both_ways")
    with pytest.raises(ConfigError, match="mnrl / cached_mnrl only"):
        TrainConfig(loss="gist", hardness=9.0)
    with pytest.raises(ConfigError, match="hardness must be >= 0"):
        TrainConfig(hardness=-1.0)
    d = TrainConfig.defaults(2000, gpu=False)
    assert (d.max_seq_length, d.precision, d.epochs, d.batch_size) == (128, "fp32", 3.0, 32)
    assert TrainConfig.defaults(300, gpu=False).batch_size == 30 and TrainConfig.defaults(50_000, gpu=False).epochs == 1.0


@pytest.mark.parametrize("rows, msg", [
    ([{"query": "a", "positive": ""}], "field 'positive'): missing or empty"),
    ([{"positive": "x"}], "field 'query'): missing or empty"),
    ([{"query": 3, "positive": "x"}], "field 'query'): must be a string"),
    (['{"query": "a",'], "malformed JSON"),
    ([{"query": "a", "positive": "text that is in no article at all"}], "positive is not a passage of the corpus"),
])
def test_bad_pairs_are_clear_before_training(tmp_path, sample_project, rows, msg):
    with pytest.raises(InputError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        load_pairs(write_pairs(tmp_path / "p.jsonl", rows), sample_project.corpus)


def test_fewer_pairs_than_a_batch(sample_project):
    with pytest.raises(InputError, match="fewer than one batch of 32"):
        prepare(sample_pairs(sample_project, 20), sample_project.corpus, TrainConfig(hard_negatives=0))


def test_positives_are_mapped_to_articles_and_duplicates_dropped(tmp_path, sample_project):
    c = sample_project.corpus
    text = c.docs["text"][0]
    p = load_pairs(write_pairs(tmp_path / "p.jsonl", [{"query": "q", "positive": text}] * 3), c)
    assert p["doc_id"].to_list() == [c.docs["doc_id"][0]] * 3
    data = prepare(pl.concat([p, sample_pairs(sample_project, 120)]), c, TrainConfig(hard_negatives=0, batch_size=8))
    assert data.stats["duplicates_dropped"] == 2


def test_validation_split_keeps_query_twins_together(sample_project):
    from embtune_core.train import split_validation

    pairs = sample_pairs(sample_project)
    twins = pairs.with_columns(pl.col("query").str.to_uppercase() + "!")
    tr, va = split_validation(pl.concat([pairs, twins]), fraction=0.2, seed=1)
    from embtune_core.core.text import normalize_query

    assert not {normalize_query(q) for q in tr["query"]} & {normalize_query(q) for q in va["query"]}
    assert 0.1 < va.height / (tr.height + va.height) < 0.3


def test_training_feeds_only_text_columns_with_no_duplicates(sample_project, tiny_model_dir, tmp_path):
    from embtune_core.core.models import load_model
    from embtune_core.train import build_trainer

    cfg = TrainConfig(base_model=str(tiny_model_dir), output_dir=str(tmp_path / "run"), batch_size=8,
                      max_seq_length=32, hard_negatives=1, max_steps=2)
    model = load_model(str(tiny_model_dir))
    data = prepare(sample_pairs(sample_project), sample_project.corpus, cfg, model=model)
    assert "doc_id" in data.train.columns and "negative_1" in data.train.columns
    # no negative is a section of the positive's own article
    doc_of = dict(zip(sample_project.corpus.unit_texts(), sample_project.corpus.unit_doc_ids(), strict=True))
    assert all(doc_of[n] != d for n, d in zip(data.train["negative_1"], data.train["doc_id"], strict=True))
    trainer, total = build_trainer(model, data, sample_project.corpus, cfg, TrainState())
    assert trainer.train_dataset.column_names == ["anchor", "positive", "negative_1"]
    assert str(trainer.args.batch_sampler.value) == "no_duplicates" and trainer.args.warmup_steps == 0.1
    assert trainer.args.metric_for_best_model == "eval_val_cosine_mrr@10" and total == 2


def test_train_stop_resume_and_cards_without_samples(sample_project, tiny_model_dir, tmp_path):
    from sentence_transformers import SentenceTransformer

    pairs = sample_pairs(sample_project)
    common = dict(base_model=str(tiny_model_dir), batch_size=8, max_seq_length=32, hard_negatives=0,
                  max_steps=8, checkpoint_steps=4, logging_steps=1, seed=7)
    full = train(pairs, sample_project.corpus, TrainConfig(output_dir=str(tmp_path / "full"), **common), log=lambda m: None)
    assert full.steps == 8 and len(full.losses) == 8 and full.val_mrr

    ckpts = list((tmp_path / "full" / "checkpoints").glob("checkpoint-*"))
    assert 1 <= len(ckpts) <= 2 and full.best_checkpoint in {str(c) for c in ckpts}  # the best and the last
    assert not [f for c in ckpts for f in c.iterdir() if f.name == "optimizer.pt"]  # finished: weights only

    state = TrainState()
    state.on_update = lambda s: s.request_stop() if s.step >= 3 else None  # between two validation passes
    part = train(pairs, sample_project.corpus, TrainConfig(output_dir=str(tmp_path / "part"), **common),
                 state=state, log=lambda m: None)
    assert part.stopped_early and part.steps == 3 and part.stop_reason == "stopped by the user"
    assert (tmp_path / "part" / "checkpoints" / "checkpoint-3" / "optimizer.pt").exists()  # resumable
    resumed = train(pairs, sample_project.corpus, TrainConfig(output_dir=str(tmp_path / "part"), **common),
                    resume=True, log=lambda m: None)
    assert resumed.steps == 8
    a = SentenceTransformer(full.output_dir, device="cpu")
    b = SentenceTransformer(resumed.output_dir, device="cpu")
    texts = ["refund a paid invoice", "okta scim sync", "webhook retries"]
    sims = (a.encode(texts, normalize_embeddings=True) * b.encode(texts, normalize_embeddings=True)).sum(axis=1)
    assert sims.min() > 0.999  # killed-and-resumed ends where the uninterrupted run did

    queries = set(pairs["query"])
    for card in (tmp_path).rglob("README.md"):
        text = card.read_text()
        assert "embtune" in text
        assert not any(q in text for q in queries if len(q) > 12), card


def test_diagnose_explains_the_tutorial_errors():
    assert "too easy" in diagnose([(s, 0.001) for s in range(1, 40)], [])[0]
    spiky = [(s, 1.0) for s in range(1, 20)] + [(20, 5.0)]
    assert "batch too small" in diagnose(spiky, [])[0]
    assert "regressed" in diagnose([(1, 2.0)], [(10, 0.5), (20, 0.4)])[0]
    assert diagnose([(1, 2.0), (2, 1.8)], [(10, 0.4), (20, 0.45)]) == []


@pytest.mark.parametrize("loss, contrast, hardness", [("gist", "one_way", 0.0), ("mnrl", "symmetric", 0.0),
                                                      ("cached_gist", "symmetric", 0.0), ("mnrl", "improved", 9.0)])
def test_the_ablated_losses_train(sample_project, tiny_model_dir, tmp_path, loss, contrast, hardness):
    cfg = TrainConfig(base_model=str(tiny_model_dir), output_dir=str(tmp_path / "run"), batch_size=8,
                      max_seq_length=32, hard_negatives=0, max_steps=2, loss=loss, contrast=contrast, hardness=hardness)
    res = train(sample_pairs(sample_project), sample_project.corpus, cfg, log=lambda m: None)
    assert res.steps == 2 and all(v == v for _, v in res.losses)  # finite


def test_make_loss_applies_the_configured_contrast_and_hardness(tiny_model_dir):
    from embtune_core.core.config import CONTRASTS
    from embtune_core.core.models import load_model
    from embtune_core.train.trainer import make_loss

    model = load_model(str(tiny_model_dir))
    plain = make_loss(model, TrainConfig())
    assert plain.directions == ("query_to_doc",) and plain.hardness_mode is None
    tuned = make_loss(model, TrainConfig(loss="cached_mnrl", contrast="improved", hardness=9.0))
    assert tuned.directions == CONTRASTS["improved"]
    assert (tuned.hardness_mode, tuned.hardness_strength) == ("in_batch_negatives", 9.0)


def test_merge_base_averages_the_weights(tiny_model_dir):
    import torch

    from embtune_core.core.models import load_model
    from embtune_core.train import merge_into

    a, b = load_model(str(tiny_model_dir)), load_model(str(tiny_model_dir))
    with torch.no_grad():
        for p in a.parameters():
            p.add_(1.0)
    before = [p.clone() for p in a.parameters()]
    merge_into(a, b, 0.25)
    for p, q, r in zip(a.parameters(), before, b.parameters(), strict=True):
        assert torch.allclose(p, 0.75 * q + 0.25 * r, atol=1e-6)


def test_absolute_margin_and_random_fill_per_source(sample_project, tiny_model_dir, tmp_path):
    from embtune_core.core.models import load_model

    cfg = TrainConfig(base_model=str(tiny_model_dir), output_dir=str(tmp_path / "run"), batch_size=8,
                      max_seq_length=32, hard_negatives=1, hard_negative_margin_kind="absolute",
                      hard_negative_margin=0.05)
    data = prepare(sample_pairs(sample_project), sample_project.corpus, cfg, model=load_model(str(tiny_model_dir)),
                   log=lambda m: None)
    filled = data.stats["hard_negatives_random"]
    assert set(filled) <= set(sample_pairs(sample_project)["source"]) and all(v >= 0 for v in filled.values())
    with pytest.raises(ConfigError, match="hard_negative_margin_kind"):
        TrainConfig(hard_negative_margin_kind="percent")


def test_validation_ranks_a_capped_corpus_that_keeps_every_positive(sample_project):
    from embtune_core.train import validation_corpus

    cfg = TrainConfig(hard_negatives=0, batch_size=8, val_corpus_max=50)
    data = prepare(sample_pairs(sample_project), sample_project.corpus, cfg)
    units, by_doc = validation_corpus(data, sample_project.corpus, cfg)
    wanted = set(data.val["doc_id"])
    assert wanted <= set(by_doc)  # every validation article keeps all its units
    others = [d for d in by_doc if d not in wanted]
    assert sum(len(by_doc[d]) for d in others) <= 50 < sample_project.corpus.sections.height


def test_the_model_card_names_no_local_path(sample_project, tiny_model_dir, tmp_path):
    cfg = TrainConfig(base_model=str(tiny_model_dir), output_dir=str(tmp_path / "run"), batch_size=8,
                      max_seq_length=32, hard_negatives=0, max_steps=1)
    train(sample_pairs(sample_project), sample_project.corpus, cfg, log=lambda m: None)
    card = (tmp_path / "run" / "README.md").read_text()
    assert str(tmp_path) not in card and str(tiny_model_dir) not in card
    assert json.loads((tmp_path / "run" / "train_log.json").read_text())["losses"]


def test_a_deadline_stops_training_after_the_step_it_would_overrun(sample_project, tiny_model_dir, tmp_path):
    import time

    from embtune_core.core.errors import BudgetError

    pairs = sample_pairs(sample_project)
    common = dict(base_model=str(tiny_model_dir), batch_size=8, max_seq_length=32, hard_negatives=0,
                  max_steps=50, checkpoint_steps=4, logging_steps=1, seed=7)
    state = TrainState()

    def tick(s):
        if s.step == 2 and s.deadline is None:  # from here on, no step fits before the deadline
            s.deadline = time.monotonic()
    state.on_update = tick
    res = train(pairs, sample_project.corpus, TrainConfig(output_dir=str(tmp_path / "t"), **common), state=state,
                log=lambda m: None)
    assert (res.steps, res.stop_reason, res.stopped_early) == (2, "time limit", True)
    assert (tmp_path / "t" / "model.safetensors").exists()
    assert res.summary()["validation_share"] is not None

    late = TrainState(deadline=time.monotonic() - 1)  # spent before training could start
    with pytest.raises(BudgetError, match="before training could start"):
        train(pairs, sample_project.corpus, TrainConfig(output_dir=str(tmp_path / "late"), **common), state=late,
              log=lambda m: None)


def test_the_deadline_estimate_counts_a_due_validation_pass_and_the_encoding_after():
    import time

    state = TrainState(deadline=time.monotonic() + 10, eval_texts=3000, texts_per_step=96, after_texts=0)
    state.started, state.first_step, state.step = time.perf_counter() - 10, 0, 10  # 1 s per step
    assert not state.out_of_time(eval_due=False)
    assert state.out_of_time(eval_due=True)  # 3000 texts at 1/288 s each: ~10 s more
    state.after_texts = 3000
    assert state.out_of_time(eval_due=False)
    state.eval_seconds = [0.5]  # a measured pass replaces the estimate
    state.after_texts = 0
    assert not state.out_of_time(eval_due=True)


def test_subsamples_are_nested_seeded_and_keep_query_twins_together(sample_project):
    from embtune_core.core.text import normalize_query
    from embtune_core.train import subsample

    pairs = sample_pairs(sample_project)
    pairs = pl.concat([pairs, pairs.head(40).with_columns(pl.col("query").str.to_uppercase())])  # twins
    quarter, half = subsample(pairs, 0.25, 7), subsample(pairs, 0.5, 7)
    assert abs(quarter.height - pairs.height / 4) < 10 and abs(half.height - pairs.height / 2) < 10
    assert set(quarter["query"]) <= set(half["query"])  # nested: 25% inside 50%
    assert subsample(pairs, 0.25, 7).equals(quarter) and not subsample(pairs, 0.25, 8).equals(quarter)
    for part in (quarter, half):
        kept = {normalize_query(q) for q in part["query"]}
        dropped = {normalize_query(q) for q in pairs["query"]} - kept
        assert not kept & dropped  # a query and its twin are kept or dropped together
    with pytest.raises(InputError, match="share"):
        subsample(pairs, 0.0, 7)


def test_learning_curve_trains_each_share_and_reads_the_last_step(tiny_project, tmp_path):
    from embtune_core import open_project
    from embtune_core.mine_pairs import export_project
    from embtune_core.train import learning_curve, plan

    project = open_project(tiny_project)
    export_project(project)
    p = plan(project, {"max_steps": 3, "hard_negatives": 0, "batch_size": 8}, log=lambda m: None)
    full = tmp_path / "full"
    curve = learning_curve(dataclasses.replace(p, config=dataclasses.replace(p.config, output_dir=str(full))),
                           fractions=(0.25, 0.5, 1.0), log=lambda m: None)
    rows = curve.rows()
    assert [r["fraction"] for r in rows] == [0.0, 0.25, 0.5, 1.0] and rows[0]["pairs"] == 0
    assert rows[1]["pairs"] < rows[2]["pairs"] < rows[3]["pairs"] == p.pairs.height
    assert all(r["recall@5_low"] <= r["recall@5"] <= r["recall@5_high"] for r in rows)
    assert {(full / f"curve{n}" / "model.safetensors").exists() for n in (25, 50, 100)} == {True}
    record = json.loads((full / "curve25" / "inputs.json").read_text())  # it names the subset it trained on
    assert record["pairs"] == str(full / "curve25.pairs.jsonl")
    assert len((full / "curve25.pairs.jsonl").read_text().splitlines()) == rows[1]["pairs"]
    step = curve.last_step()
    assert step.delta == pytest.approx(rows[3]["recall@5"] - rows[2]["recall@5"], abs=1e-9)
    advice = curve.advice()
    assert advice.split(":")[0] in {"Still rising", "Falling", "Flat within noise"} and "pairs" in advice
    # a share already trained is reused, not retrained
    again = learning_curve(p, fractions=(0.5, 1.0), reuse={0.5: full / "curve50", 1.0: full / "curve100"},
                           log=lambda m: None)
    assert [pt.run for pt in again.points] == [str(full / "curve50"), str(full / "curve100")]
    assert again.points[-1].metrics == curve.points[-1].metrics
