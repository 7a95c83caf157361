"""PGD robust accuracy: prodkit.security.robustness against the Adversarial Robustness Toolbox (ART) on the same model,
inputs and epsilons, in one run. Prints robust accuracy of both per epsilon, their difference in units of the sampling
standard error, and the time ratio. ART is a benchmark-only extra:

    pip install -c constraints.txt adversarial-robustness-toolbox==1.20.1
    python benchmarks/security_bench.py [--rows 500] [--steps 10] [--restarts 1]

Without ART installed it prints prodkit's figures only and says so. With `--leakage N` it instead times
prodkit.security.leakage on N reference and N evaluation rows (planted exact and near copies) against the nearest-row
search a user would write with scikit-learn (`NearestNeighbors(n_neighbors=1)` on the same encoded rows, then the same
near threshold), and checks that both flag the same rows."""
import argparse, time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

from prodkit.core import Predictor
from prodkit.security import robustness


def model_and_data(rows, seed=0):
    "An MLP trained on the digits (pixels in [0, 1]) and the rows to attack."
    X, y = load_digits(return_X_y=True); X = (X / 16).astype(np.float32)
    g = np.random.default_rng(seed); o = g.permutation(len(X)); tr, te = o[:1200], o[1200:1200 + rows]
    torch.manual_seed(seed); m = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(m.parameters(), 0.01); xt, yt = torch.from_numpy(X[tr]), torch.from_numpy(y[tr])
    for _ in range(300): opt.zero_grad(); F.cross_entropy(m(xt), yt).backward(); opt.step()
    return m.eval(), X[te], y[te]


def prodkit_pgd(m, X, y, eps, steps, restarts):
    # a flat array gets no clipping from prodkit (it does not know pixels); reshape to an image batch so both clip to [0, 1]
    img = nn.Sequential(nn.Flatten(), m)
    t0 = time.perf_counter()
    r = robustness(Predictor(img, output="logits"), X.reshape(-1, 1, 8, 8), y, eps=eps, steps=steps, restarts=restarts, refine=0)
    dt = time.perf_counter() - t0
    return r.curve[r.curve.attack == "pgd"].set_index("eps").robust_accuracy, dt, r


def art_pgd(m, X, y, eps, steps, restarts):
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier
    clf = PyTorchClassifier(model=m, loss=nn.CrossEntropyLoss(), input_shape=(64,), nb_classes=10, clip_values=(0.0, 1.0))
    out, t0 = {}, time.perf_counter()
    for e in eps:
        if e == 0: out[e] = float(np.mean(clf.predict(X).argmax(1) == y)); continue
        atk = ProjectedGradientDescent(clf, norm=np.inf, eps=e, eps_step=2.5 * e / steps, max_iter=steps,
                                       num_random_init=restarts, batch_size=len(X), verbose=False)
        adv = atk.generate(X, y=np.eye(10)[y].astype(np.float32))
        out[e] = float(np.mean(clf.predict(adv).argmax(1) == y))
    return out, time.perf_counter() - t0


def leakage_bench(n, seed=0):
    "prodkit's leakage against a scikit-learn nearest-neighbour search on the same encoded rows."
    import pandas as pd
    from sklearn.neighbors import NearestNeighbors
    from prodkit.core import TabularAdapter
    from prodkit.security import leakage
    g = np.random.default_rng(seed)
    def rows(k):
        d = pd.DataFrame(g.normal(size=(k, 6)), columns=[f"x{i}" for i in range(6)])
        return d.assign(c=g.choice(["a", "b", "c"], k), label=g.integers(0, 2, k))
    ref, ev = rows(n), rows(n)
    ev.iloc[:50] = ref.iloc[:50].to_numpy(); ev.iloc[50:80] = ref.iloc[50:80].assign(x0=lambda d: d.x0 + 1e-4).to_numpy()
    ev = ev.astype(ref.dtypes.to_dict())
    t0 = time.process_time(); r = leakage(ref, ev, label="label", seed=seed); t_pk = time.process_time() - t0
    feats = [c for c in ref.columns if c != "label"]
    t0 = time.process_time()
    ad = TabularAdapter().fit(ref[feats]); R, E = ad.transform(ref[feats]).numpy(), ad.transform(ev[feats]).numpy()
    d, _ = NearestNeighbors(n_neighbors=1).fit(R).kneighbors(E)
    t_sk = time.process_time() - t0
    flagged = set(np.flatnonzero(d[:, 0] <= r.threshold))
    print(f"leakage on {n:,} + {n:,} rows: prodkit {t_pk:.3f} CPU s (exact {r.exact}, near {r.near}, features and metric "
          f"included); scikit-learn nearest rows alone {t_sk:.3f} CPU s; ratio {t_sk / t_pk:.2f}x; "
          f"same rows flagged: {flagged == set(r.duplicates.row)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=500); ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--restarts", type=int, default=1)
    ap.add_argument("--leakage", type=int, default=0, metavar="N", help="time leakage on N + N rows instead")
    a = ap.parse_args(); eps = (0.0, 0.02, 0.05, 0.1)
    if a.leakage: return leakage_bench(a.leakage)
    torch.set_num_threads(1)
    m, X, y = model_and_data(a.rows)
    pk, t_pk, _ = prodkit_pgd(m, X, y, eps, a.steps, a.restarts)
    print(f"torch {torch.__version__}, {len(y)} digits rows, L-inf PGD, {a.steps} steps, {a.restarts} restart(s), 1 thread")
    try:
        import art
        ar, t_art = art_pgd(m, X, y, eps, a.steps, a.restarts)
    except ImportError:
        print("adversarial-robustness-toolbox is not installed: prodkit only")
        for e in eps: print(f"eps {e:<5} prodkit robust accuracy {pk[e]:.3f}")
        print(f"prodkit {t_pk:.2f} s"); return
    print(f"ART {art.__version__}")
    print(f"{'eps':>6} {'prodkit':>8} {'ART':>8} {'diff/se':>8}")
    for e in eps:
        p, q = pk[e], ar[e]; se = np.sqrt(max(p * (1 - p) + q * (1 - q), 1e-12) / len(y))
        print(f"{e:>6} {p:>8.3f} {q:>8.3f} {(p - q) / se:>8.2f}")
    print(f"time: prodkit {t_pk:.2f} s (FGSM, PGD and noise per eps), ART {t_art:.2f} s (PGD only); ratio ART/prodkit {t_art / t_pk:.2f}")


if __name__ == "__main__":
    main()
