"""Evaluation of a pre-training run at every checkpoint: minimal pairs, concept vectors, heads.

Design (``docs/exposure_grokking.md`` §5).  For each parameter snapshot of a run of
``lm_pretraining`` (steps from ``training.log_steps``) and each phenomenon's generated pairs (and,
optionally, the real BLiMP pairs of the paradigms they mirror):

* ``correct`` and ``margin``: the full-sentence score (method "sum", prefix = the end id) and the
  critical-token margin of every pair;
* ``head_mass`` (n_layers, n_heads): attention from the critical token (query = its position) to the
  context token in the good sentences, its random-key baseline, and the same from the position
  predicting the critical token;
* ``concepts``: per layer, residual stream after the block at the critical token, good vs bad:
  the mass-mean direction fitted on ``n_concept`` pairs of the fixed proxy-train split (critical
  phrase seen during the run), its AUC and the probe on the fixed proxy-val pairs, and the
  dimensions of the differences (``concepts.concept_geometry``, shuffled baseline included).

Token positions: a sentence is scored as [eos] + words, so word i sits at position i + 1.  Each
checkpoint's record is written to ``RUN_DIR/eval/step_XXXXXXXX.json`` with the evaluation's
configuration; a record with another configuration is an error (never silently reused).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from grokphase._io import atomic_write_json

__all__ = ["LMEvaluation", "evaluate_run", "load_records", "summarize_run"]


@dataclass(frozen=True)
class LMEvaluation:
    """run_dir: a pre-training run; blimp: folder of BLiMP files (None: generated pairs only);
    n_concept: pairs per concept-vector fit (equal at every checkpoint); n_repeats: subsamples (the
    same subsets at every checkpoint, so that two checkpoints compare paired draws);
    batch_size: sequences per forward pass; n_real: the first n_real pairs of each real paradigm
    (None: all)."""

    run_dir: str
    blimp: str | None = None
    n_concept: int = 40
    n_repeats: int = 20
    batch_size: int = 256
    n_real: int | None = 200


def _pairs(corpus_dir: Path, blimp: str | None, n_real: int | None):
    from grokphase.validation.exposure.minimal_pairs import annotate_critical, load_blimp

    pairs = load_blimp(corpus_dir / "pairs")
    real = []
    if blimp is not None:
        mirrors = sorted({p.extra["mirrors"] for p in pairs})
        for uid in mirrors:
            real += annotate_critical(load_blimp(Path(blimp) / f"{uid}.jsonl"))[:n_real]
    return pairs, real


def _heads_and_concepts(model, tok, pairs, seen_fixed, cfg: LMEvaluation, seed: int) -> dict:
    """Per UID: head masses (query = critical token, and the position before it) and concept measures."""
    from grokphase.validation.exposure.concepts import concept_geometry
    from grokphase.validation.exposure.heads import head_mass, random_key_baseline

    out = {}
    by_uid: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by_uid.setdefault(p.UID, []).append(i)
    for uid, idx in by_uid.items():
        ps = [pairs[i] for i in idx]
        good = [[tok.eos_id] + tok.encode(p.sentence_good) for p in ps]
        bad = [[tok.eos_id] + tok.encode(p.sentence_bad) for p in ps]
        if len({len(s) for s in good + bad}) != 1:
            raise ValueError(f"{uid}: generated sentences must share one length")
        crit = np.array([p.critical_index + 1 for p in ps])
        ctx = np.array([p.context_index + 1 for p in ps])
        pos = np.stack([crit - 1, crit], axis=1)
        runs = [model.run_with_hooks(np.array(s), resid=True, positions=pos, attention=True) for s in (good, bad)]
        attn = runs[0].attention                                     # (L, B, H, T, T)
        rec = {"head_mass": head_mass(attn, crit, ctx).tolist(),
               "head_mass_baseline": random_key_baseline(attn, crit, ctx, seed=seed).tolist(),
               "head_mass_predicting": head_mass(attn, crit - 1, np.minimum(ctx, crit - 1)).tolist()}
        tr = np.asarray(seen_fixed)[idx]
        layers = []
        for layer in range(1, runs[0].resid.shape[0]):
            hg, hb = runs[0].resid[layer, :, 1], runs[1].resid[layer, :, 1]
            if tr.sum() >= max(cfg.n_concept, 4) and (~tr).sum() >= 1:
                layers.append(concept_geometry(hg[tr], hb[tr], hg[~tr], hb[~tr], n_pairs=cfg.n_concept,
                                               n_repeats=cfg.n_repeats, seed=0))
            else:
                layers.append(None)
        rec["concepts"] = layers
        out[uid] = rec
    return out


def evaluate_run(cfg: LMEvaluation, *, progress: bool = False) -> list[Path]:
    """Evaluate every snapshot of ``cfg.run_dir`` (skipping records already written with this
    configuration); returns the record paths."""
    from grokphase._progress import progress_bar

    from grokphase.validation.experiments.lm_pretraining import model_config, read_run, tokens_per_step
    from grokphase.validation.exposure.corpus import load_corpus
    from grokphase.validation.exposure.index import ExposureIndex
    from grokphase.validation.exposure.scoring import score_methods
    from grokphase.validation.nn import Transformer

    run_dir = Path(cfg.run_dir)
    ident = json.loads((run_dir / "config.json").read_text())["config"]
    run = read_run(run_dir)
    tokens, tok, meta = load_corpus(run.corpus)
    pairs, real = _pairs(Path(run.corpus), cfg.blimp, cfg.n_real)
    tps = tokens_per_step(run)
    planned = (len(tokens) - 1 if run.tokens is None else min(run.tokens, len(tokens) - 1)) // tps
    idx = ExposureIndex(tokens, eos_id=meta["eos_id"], vocab_size=len(tok), tokens_per_step=tps)
    seen_fixed = idx.counts([tok.encode(p.critical_phrase_good) for p in pairs],
                            idx.offsets_at_steps(np.array([planned])))[:, 0] > 0
    model = Transformer(model_config(run, len(tok)))
    ev_ident = {"evaluation": asdict(cfg), "run": ident}
    paths = []
    snaps = sorted((run_dir / "snapshots").glob("step_*.npz"))
    for snap in progress_bar(iterable=snaps, progress=progress, desc="checkpoints", unit="snapshot"):
        out = run_dir / "eval" / (snap.stem + ".json")
        paths.append(out)
        if out.exists():
            old = json.loads(out.read_text())["identity"]
            if old != json.loads(json.dumps(ev_ident)):
                raise ValueError(f"{out} was written by another evaluation configuration; remove "
                                 f"{run_dir / 'eval'} or use the same settings")
            continue
        with np.load(snap) as z:
            step = int(z["step"])
            for k in model.params:
                model.params[k][...] = z["param/" + k]
        lp = lambda seqs: model.sequence_logprobs(seqs, batch_size=cfg.batch_size)
        rec = {"identity": ev_ident, "step": step, "tokens": step * tps}
        for name, ps in (("generated", pairs), ("blimp", real)):
            if not ps:
                continue
            res = score_methods(ps, lp, tok, prefix_id=tok.eos_id, methods=("sum", "critical_margin"),
                                batch_size=cfg.batch_size)
            s, m = res["sum"], res["critical_margin"]
            rec[name] = {"uid": [p.UID for p in ps], "pairID": [p.pairID for p in ps],
                         "correct": s.correct.tolist(), "margin": m.margin.tolist()}
        rec["generated"]["exposure_group"] = [p.extra["exposure_group"] for p in pairs]
        rec["heads_concepts"] = _heads_and_concepts(model, tok, pairs, seen_fixed, cfg, seed=step)
        atomic_write_json(out, rec)
    return paths


def load_records(run_dir) -> list[dict]:
    """The evaluation records of a run, ordered by step."""
    recs = [json.loads(p.read_text()) for p in sorted((Path(run_dir) / "eval").glob("step_*.json"))]
    return sorted(recs, key=lambda r: r["step"])


def summarize_run(run_dir, *, k_heads: int = 2, n_random: int = 10, n_boot: int = 500) -> dict:
    """Per phenomenon (generated pairs): accuracy per checkpoint and split (dynamic and fixed), the
    delays at theta = 0.8 and the midpoint, accuracy per exposure bin at every checkpoint and its
    rank correlation with the count at the proxy-train threshold checkpoint t_train(0.8) (the last
    checkpoint if proxy-train never reaches 0.8), the real BLiMP pairs' accuracy per paradigm and
    checkpoint (when they were scored), head
    concentration of the critical -> context mass at every checkpoint, the top-k vs random head
    ablation (zeroing the heads' outputs) on the fixed proxy-val pairs at the last checkpoint, and
    the concept measures of the last layer at the first and last checkpoints.  Written to
    ``RUN_DIR/summary_eval.json`` and returned."""
    from grokphase.validation.experiments.lm_pretraining import model_config, read_run, tokens_per_step
    from grokphase.validation.exposure.analysis import delay_estimate, exposure_bins, exposure_trend, proxy_splits
    from grokphase.validation.exposure.corpus import load_corpus
    from grokphase.validation.exposure.heads import ablation_effect, concentration
    from grokphase.validation.exposure.index import ExposureIndex
    from grokphase.validation.exposure.minimal_pairs import load_blimp
    from grokphase.validation.exposure.scoring import score_pairs
    from grokphase.validation.nn import Transformer

    run_dir = Path(run_dir)
    recs = load_records(run_dir)
    if not recs:
        raise ValueError(f"{run_dir} has no evaluation records (run the evaluation first)")
    ident = recs[0]["identity"]["run"]
    run = read_run(run_dir)
    tokens, tok, meta = load_corpus(run.corpus)
    pairs = load_blimp(Path(run.corpus) / "pairs")
    tps = tokens_per_step(run)
    idx = ExposureIndex(tokens, eos_id=meta["eos_id"], vocab_size=len(tok), tokens_per_step=tps)
    steps = np.array([r["step"] for r in recs])
    counts = idx.counts_at_steps([tok.encode(p.critical_phrase_good) for p in pairs], steps)
    correct = np.array([r["generated"]["correct"] for r in recs])
    margin = np.array([r["generated"]["margin"] for r in recs])
    uid = np.array([p.UID for p in pairs])
    group = np.array([p.extra["exposure_group"] for p in pairs])
    model = Transformer(model_config(run, len(tok)))
    with np.load(run_dir / "snapshots" / f"step_{steps[-1]:08d}.npz") as z:
        for k in model.params:
            model.params[k][...] = z["param/" + k]
    out = {"run": ident, "steps": steps.tolist(), "tokens": (steps * tps).tolist(), "phenomena": {}}
    for u in sorted(set(uid.tolist())):
        m = (uid == u) & (group != "control")
        ds = proxy_splits(correct[:, m], counts[m], steps * tps, margin=margin[:, m])
        seen_fixed = counts[m, -1] > 0
        delays = {str(th): asdict(delay_estimate(steps * tps, [(correct[:, m], seen_fixed)], theta=th, n_boot=n_boot))
                  for th in (0.8, "midpoint")}
        bins = exposure_bins(correct[:, m], counts[m], steps * tps)
        t_tr = delays["0.8"]["t_train"]
        at = int(np.flatnonzero(steps * tps == t_tr)[0]) if np.isfinite(t_tr) else len(steps) - 1
        trend = {"checkpoint": at, "step": int(steps[at]), **exposure_trend(correct[at, m], counts[m, at], seed=at)}
        hc = [r["heads_concepts"][u] for r in recs]
        conc = [concentration(np.array(h["head_mass"]), k=k_heads) for h in hc]
        mass_last = np.array(hc[-1]["head_mass"])
        val_pairs = [p for p, ok in zip([q for q, mm in zip(pairs, m) if mm], seen_fixed) if not ok]

        def acc_with(mask, ps=val_pairs):
            hm = None if mask is None else (~mask).astype(float)
            return score_pairs(ps, lambda s: model.sequence_logprobs(s, head_mask=hm), tok, prefix_id=tok.eos_id).acc

        rec = {"splits": {kind: {split: {"acc": ds.acc.sel(kind=kind, split=split).values.tolist(),
                                         "n": ds.n.sel(kind=kind, split=split).values.tolist(),
                                         "acc_lo": ds.acc_lo.sel(kind=kind, split=split).values.tolist(),
                                         "acc_hi": ds.acc_hi.sel(kind=kind, split=split).values.tolist()}
                                 for split in ("train", "val")} for kind in ("dynamic", "fixed")},
               "delays": delays,
               "exposure_bins_last": dict(zip(bins.bin.values.tolist(), bins.acc.values[-1].tolist())),
               "exposure_bins": {"bin": bins.bin.values.tolist(), "acc": bins.acc.values.tolist(),
                                 "n": bins.n.values.tolist()},
               "exposure_trend": trend,
               "head_concentration": conc, "head_mass_last": mass_last.tolist(),
               "head_mass_baseline_last": hc[-1]["head_mass_baseline"],
               "ablation": ablation_effect(acc_with, mass_last, k=k_heads, n_random=n_random) if val_pairs else None,
               "concepts_first_last": [hc[0]["concepts"][-1], hc[-1]["concepts"][-1]]}
        if u == "grammar_irregular":
            c = uid == u
            ctl = group[c] == "control"
            rec["control_acc"] = correct[:, c][:, ctl].mean(axis=1).tolist()
            rec["control_n"] = int(ctl.sum())
        out["phenomena"][u] = rec
    if "blimp" in recs[0]:
        out["blimp"] = _real_pairs_summary(recs, run, tok, idx, steps)
    atomic_write_json(run_dir / "summary_eval.json", out, indent=1)
    return out


def _real_pairs_summary(recs, run, tok, idx, steps) -> dict:
    """Per real BLiMP paradigm: accuracy per checkpoint, n, and the exposure of its pairs over our
    stream at the last checkpoint: the fraction of pairs whose good critical phrase (context ..
    critical word, ``annotate_critical``) occurs, the fraction with an out-of-vocabulary word, and
    the median count of the critical word alone."""
    from grokphase.validation.exposure.minimal_pairs import annotate_critical, load_blimp, split_words

    real_uid = np.array(recs[0]["blimp"]["uid"])
    real = np.array([r["blimp"]["correct"] for r in recs])
    ident = recs[0]["identity"]["evaluation"]
    out = {}
    for u in sorted(set(real_uid.tolist())):
        m = real_uid == u
        pairs = annotate_critical(load_blimp(Path(ident["blimp"]) / f"{u}.jsonl"))[:int(m.sum())]
        phrases = [tok.encode(p.critical_phrase_good) for p in pairs]
        crit = [tok.encode_words([split_words(p.sentence_good)[p.critical_index]]) for p in pairs]
        oov = np.array([tok.unk_id in ph for ph in phrases])
        at = idx.offsets_at_steps(steps[-1:])
        known = [ph for ph, bad in zip(phrases, oov) if not bad]
        seen = idx.counts(known, at)[:, 0] > 0 if known else np.zeros(0, bool)
        word = idx.counts([c for c in crit if c[0] != tok.unk_id], at)[:, 0]
        out[u] = {"acc": real[:, m].mean(axis=1).tolist(), "n": int(m.sum()),
                  "phrase_seen_fraction": float(seen.sum() / len(pairs)), "oov_fraction": float(oov.mean()),
                  "critical_word_median_count": float(np.median(word)) if word.size else None}
    return out

