"""Time prodkit's batched LIME against a plain loop over lime's `explain_instance` on the same rows, in one run.

    python benchmarks/explain_bench.py                 # 1,000 demo rows, 5,000 samples each
    python benchmarks/explain_bench.py --rows 200      # a shorter run
    python benchmarks/explain_bench.py --threads 1     # both sides on one torch thread (steadier on a busy machine)

Both sides explain the same rows of the demo's tabular model with the same training data, num_samples, num_features
and class, and call the same model through the same encoder (so the ratio is about LIME itself, not input encoding).
lime gets a fresh explainer per row with an integer random_state (its only reproducible use). Printed: both times,
the ratio, prodkit-vs-lime top-5 agreement, and lime-vs-lime top-5 agreement (lime again under another seed).
"""
import argparse, json, time, warnings

import numpy as np
import pandas as pd
import torch


def _data(kind, n_train, seed):
    "(training frame, frame of rows to explain, Predictor with adapter, class names)."
    if kind == "demo":
        from prodkit.demo import load_demo
        d = load_demo(seed=seed)
        feats = d.schema.names
        # LIME cannot perturb a missing value: rows with NaN (the demo has a few missing ages) are left out on both sides
        return d.reference[feats].dropna().head(n_train), d.current[feats].dropna(), d.predictor, [0, 1]
    from prodkit.core import Predictor, TabularAdapter      # a stand-in of the same shape, for machines without the demo
    rng = np.random.default_rng(seed); n = n_train + 5000
    df = pd.DataFrame({f"n{i}": rng.normal(size=n) for i in range(16)})
    for i in range(4): df[f"c{i}"] = rng.choice(list("abcde"), n)
    ad = TabularAdapter().fit(df)
    torch.manual_seed(seed)
    mlp = torch.nn.Sequential(torch.nn.Linear(len(ad.feature_names_), 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
    return df.head(n_train), df.iloc[n_train:], Predictor(mlp, adapter=ad), [0, 1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1000, help="rows to explain")
    ap.add_argument("--num-samples", type=int, default=5000)
    ap.add_argument("--num-features", type=int, default=10)
    ap.add_argument("--train", type=int, default=5000, help="training rows given to both explainers")
    ap.add_argument("--data", choices=["demo", "synthetic"], default="demo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads for both sides (default: torch's own choice)")
    ap.add_argument("--json", help="also write the numbers to this file")
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    from lime.lime_tabular import LimeTabularExplainer
    from prodkit.explain import TabularExplainer, ExplanationWarning
    warnings.simplefilter("ignore", ExplanationWarning)

    train, pool, predictor, classes = _data(a.data, a.train, a.seed)
    rows = pool.head(a.rows)
    print(f"{len(rows)} rows, {len(train)} training rows, {train.shape[1]} features, num_samples={a.num_samples}, "
          f"num_features={a.num_features}, torch threads={torch.get_num_threads()}")

    t = time.perf_counter()
    ex = TabularExplainer(predictor, train, seed=a.seed)
    es = ex.explain_many(rows, num_features=a.num_features, num_samples=a.num_samples, label=1)
    t_prodkit = time.perf_counter() - t

    sp = ex.space_; T = sp.matrix(train); M = sp.matrix(rows)
    cat_idx = [j for j in range(len(sp.names)) if sp.is_cat[j]]
    cat_names = {j: [str(c) for c in sp.categories[j]] for j in cat_idx}
    model = ex.predictor_
    predict_fn = lambda A: model.predict_proba(ex.encode_(A))      # same model, same encoder for lime

    def lime_loop(seed_offset):
        tops, t0 = [], time.perf_counter()
        for i in range(len(M)):
            le = LimeTabularExplainer(T, feature_names=sp.names, categorical_features=cat_idx, categorical_names=cat_names,
                                      class_names=classes, discretize_continuous=True, random_state=seed_offset + i)
            e = le.explain_instance(M[i], predict_fn, labels=(1,), num_features=a.num_features, num_samples=a.num_samples)
            tops.append({sp.names[j] for j, _ in e.as_map()[1][:5]})
        return tops, time.perf_counter() - t0

    lime_tops, t_lime = lime_loop(a.seed)
    lime2_tops, t_lime2 = lime_loop(a.seed + 1_000_003)
    ours = [set(e.top(5)) for e in es]
    agree = float(np.mean([len(o & l) / 5 for o, l in zip(ours, lime_tops)]))
    self_agree = float(np.mean([len(l2 & l) / 5 for l2, l in zip(lime2_tops, lime_tops)]))
    res = {"rows": len(rows), "num_samples": a.num_samples, "prodkit_s": t_prodkit, "lime_s": t_lime, "lime_second_seed_s": t_lime2,
           "speedup": t_lime / t_prodkit, "top5_agreement_prodkit_vs_lime": agree, "top5_agreement_lime_vs_lime": self_agree,
           "prodkit_mean_fidelity": es.summary["mean_fidelity"], "data": a.data}
    print(f"prodkit explain_many : {t_prodkit:8.2f} s  ({1000 * t_prodkit / len(rows):.2f} ms/row)")
    print(f"lime explain_instance: {t_lime:8.2f} s  ({1000 * t_lime / len(rows):.2f} ms/row)")
    print(f"speed-up             : {t_lime / t_prodkit:8.1f}x  (target >= 10x)")
    print(f"top-5 agreement      : prodkit vs lime {agree:.3f}   lime vs lime (another seed) {self_agree:.3f}")
    print(json.dumps(res))
    if a.json:
        from prodkit.core import atomic_write_text
        atomic_write_text(a.json, json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
