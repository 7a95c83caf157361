"""Users' own models for the end-to-end matrix of tests/test_user_models.py (issue 16).

Each builder trains a small torch model in seconds, with a fixed seed, on data that ships inside scikit-learn, and
writes what a user brings to `prodkit validate` and the drift monitoring template into a folder: a model bundle
(`prodkit.versioning.save_bundle`), reference and current data (Parquet) and a reference profile
(`prodkit.drift.ReferenceProfile`). It returns a `UserModel` with those paths and the facts the tests check against.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from prodkit.core import Predictor, Schema, TabularAdapter
from prodkit.core import one_thread
from prodkit.demo import _init_
from prodkit.drift import ReferenceProfile
from prodkit.versioning import save_bundle

SEED = 0


@dataclass(frozen=True)
class UserModel:
    "What one kind of user brings: paths of the bundle, the data and the profile, and facts about them."
    kind: str
    bundle: Path
    reference: Path
    current: Path
    profile: Path
    label: str
    task: str                      # 'binary', 'multiclass', 'regression' or 'image'
    classes: list | None
    time: str | None = None
    n_rows: int = 0
    notes: dict = field(default_factory=dict)

    def validation_params(self, **kw) -> dict:
        "Parameters of templates/validation.ipynb for this model, with the slow sections shortened."
        return {"model": str(self.bundle), "reference": str(self.reference), "current": str(self.current),
                "label": self.label, "seed": SEED, **FAST_VALIDATION, **kw}

    def drift_params(self, **kw) -> dict:
        "Parameters of templates/drift_monitoring.ipynb for this model (the bundle given, so outputs and performance are checked)."
        return {"profile": str(self.profile), "current": str(self.current), "model": str(self.bundle), "seed": SEED, **kw}


# the validation template's slow parameters, shortened (its defaults: 100 qps for 5 s, 100 rows x 2000 LIME samples);
# 200 qps for 2.5 s still gives more requests than a p99 needs (prodkit.load.min_requests(99) = 368)
FAST_VALIDATION = {"load_qps": 200.0, "load_duration_s": 2.5, "explain_rows": 20, "explain_samples": 1000}


def _mlp(n_in, n_out, *, seed, hidden=(16,)):
    layers, k = [], n_in
    for h in hidden: layers += [nn.Linear(k, h, device="meta"), nn.ReLU()]; k = h
    return _init_(nn.Sequential(*layers, nn.Linear(k, n_out, device="meta")), torch.Generator().manual_seed(seed))


def _train(model, X, y, loss_fn, *, epochs=300, lr=0.01, seed=SEED, batch_size=None):
    "Adam on `loss_fn`, full batch (or shuffled mini-batches), one thread: the same weights on every machine."
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    model.train()
    with one_thread():
        for _ in range(epochs):
            for idx in (torch.randperm(len(y), generator=g).split(batch_size) if batch_size else [slice(None)]):
                opt.zero_grad(); loss_fn(model(X[idx]), y[idx]).backward(); opt.step()
    return model.eval()


def _split(n, share, *, seed=SEED):
    "A random split of range(n): the first `share` is the reference, the rest the current data."
    perm = np.random.default_rng(seed).permutation(n); k = int(round(share * n))
    return np.sort(perm[:k]), np.sort(perm[k:])


def _write(out, kind, ref, cur, model, adapter, *, label, task, classes, output, example=None, time=None, profile_model=True, notes=None):
    "Write the bundle, the Parquet data and the reference profile of one kind into `out`; return its UserModel."
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    mtask = "regression" if output == "regression" else "classification"
    bundle = save_bundle(out / "bundle", model, adapter, task=mtask, output="logits" if mtask == "regression" else output,
                         classes=classes, name=f"user-{kind}", example=example)
    ref.to_parquet(out / "reference.parquet", index=False); cur.to_parquet(out / "current.parquet", index=False)
    pred = None
    if profile_model: pred = (Predictor(model, adapter=adapter, task="regression") if mtask == "regression"
                              else Predictor(model, adapter=adapter, output=output, classes=classes))
    schema = adapter.schema if adapter is not None else Schema.infer(ref, label=label, time=time)
    ReferenceProfile.fit(ref, schema=schema, predictor=pred, seed=SEED).save(out / "profile.npz")
    return UserModel(kind=kind, bundle=bundle, reference=out / "reference.parquet", current=out / "current.parquet",
                     profile=out / "profile.npz", label=label, task=task, classes=classes, time=time,
                     n_rows=len(ref) + len(cur), notes=notes or {})


def _tabular_classifier(out, kind, df, *, label, classes, time=None, share=0.6, split=None, epochs=300):
    "An MLP classifier on `df` (features + `label` (+ `time`)): one logit for two classes, one per class otherwise."
    ri, ci = split if split is not None else _split(len(df), share)
    ref, cur = df.iloc[ri].reset_index(drop=True), df.iloc[ci].reset_index(drop=True)
    schema = Schema.infer(ref, label=label, time=time)
    adapter = TabularAdapter(schema).fit(ref)
    X = adapter.transform(ref)
    pos = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([pos[v] for v in ref[label]])
    if len(classes) == 2:
        model = _train(_mlp(X.shape[1], 1, seed=SEED), X, y.float().reshape(-1, 1), nn.BCEWithLogitsLoss(), epochs=epochs)
    else:
        model = _train(_mlp(X.shape[1], len(classes), seed=SEED), X, y, nn.CrossEntropyLoss(), epochs=epochs)
    return _write(out, kind, ref, cur, model, adapter, label=label, task="binary" if len(classes) == 2 else "multiclass",
                  classes=list(classes), output="logits", time=time)


def build_binary_text(out):
    "Breast cancer (569 rows, 30 features): a binary classifier whose label column holds 'malignant' / 'benign'."
    from sklearn.datasets import load_breast_cancer
    d = load_breast_cancer(as_frame=True)
    df = d.data.copy()
    df["diagnosis"] = np.asarray(d.target_names)[d.target.to_numpy()]          # 0 = malignant, 1 = benign
    return _tabular_classifier(out, "binary_text", df, label="diagnosis", classes=["malignant", "benign"])


def build_multiclass(out):
    "Wine (178 rows, 13 features): a 3-class classifier with integer labels 0, 1, 2."
    from sklearn.datasets import load_wine
    d = load_wine(as_frame=True)
    df = d.data.copy(); df["cultivar"] = d.target.astype("int64")
    return _tabular_classifier(out, "multiclass", df, label="cultivar", classes=[0, 1, 2])


def build_regression(out):
    "Diabetes (442 rows, 10 features): an MLP regressor of disease progression one year later."
    from sklearn.datasets import load_diabetes
    d = load_diabetes(as_frame=True)
    df = d.data.copy(); df["progression"] = d.target.astype("float64")
    ri, ci = _split(len(df), 0.6)
    ref, cur = df.iloc[ri].reset_index(drop=True), df.iloc[ci].reset_index(drop=True)
    adapter = TabularAdapter(Schema.infer(ref, label="progression")).fit(ref)
    X = adapter.transform(ref)
    mu, sd = float(ref.progression.mean()), float(ref.progression.std())
    net = _train(_mlp(X.shape[1], 1, seed=SEED), X, torch.tensor((ref.progression.to_numpy() - mu) / sd, dtype=torch.float32).reshape(-1, 1),
                 nn.MSELoss(), epochs=300)
    model = nn.Sequential(net, _Affine(sd, mu)).eval()      # predicts in the label's units, shape (n, 1)
    return _write(out, "regression", ref, cur, model, adapter, label="progression", task="regression", classes=None, output="regression")


class _Affine(nn.Module):
    "y * scale + shift: brings a standardised regression output back to the label's units."
    def __init__(self, scale, shift):
        super().__init__(); self.scale, self.shift = float(scale), float(shift)
    def forward(self, x): return x * self.scale + self.shift


def build_quarterly(out):
    """Breast cancer rows in time order with a quarterly `date` column from 1990-01-01 (4 rows a quarter, so far
    fewer than 30 rows per month): the reference is the early quarters, the current data the later ones."""
    from sklearn.datasets import load_breast_cancer
    d = load_breast_cancer(as_frame=True)
    df = d.data.iloc[:, :10].copy(); df["label"] = d.target.astype("int64")
    quarters = np.arange(len(df)) // 4
    df["date"] = [pd.Timestamp("1990-01-01") + pd.DateOffset(months=3 * int(q)) for q in quarters]
    k = int(0.6 * len(df)); k -= k % 4                                        # whole quarters on each side
    return _tabular_classifier(out, "quarterly", df, label="label", classes=[0, 1], time="date",
                               split=(np.arange(k), np.arange(k, len(df))))


def build_small(out):
    "About 200 rows: 200 random rows of breast cancer with 0/1 labels (120 reference, 80 current), 8 features."
    from sklearn.datasets import load_breast_cancer
    d = load_breast_cancer(as_frame=True)
    rows = np.sort(np.random.default_rng(SEED).permutation(len(d.target))[:200])
    df = d.data.iloc[rows, :8].reset_index(drop=True); df["label"] = d.target.iloc[rows].astype("int64").to_numpy()
    return _tabular_classifier(out, "small", df, label="label", classes=[0, 1])


def _cnn(seed):
    return _init_(nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, device="meta"), nn.ReLU(), nn.MaxPool2d(2),
                                nn.Conv2d(8, 16, 3, padding=1, device="meta"), nn.ReLU(), nn.MaxPool2d(2),
                                nn.Flatten(), nn.Linear(64, 10, device="meta")), torch.Generator().manual_seed(seed))


def build_image(out):
    """Digits (1797 images of 8x8): a small CNN on (N, 1, 8, 8) tensors in [0, 1]. The data files hold the 64 pixels
    as columns `px0`..`px63` (row-major) and the digit in `label`: the only way images fit a CSV/Parquet table."""
    from sklearn.datasets import load_digits
    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)
    ri, ci = _split(len(X), 0.6)
    model = _train(_cnn(SEED), torch.from_numpy(X[ri]).unsqueeze(1), torch.from_numpy(d.target[ri].astype(np.int64)),
                   nn.CrossEntropyLoss(), epochs=8, lr=0.02, batch_size=128)
    frame = lambda idx: pd.DataFrame(X[idx].reshape(len(idx), 64), columns=[f"px{i}" for i in range(64)]).assign(label=d.target[idx].astype("int64"))
    return _write(out, "image", frame(ri), frame(ci), model, None, label="label", task="image", classes=list(range(10)),
                  output="logits", example=torch.from_numpy(X[ri[:32]]).unsqueeze(1), profile_model=False,
                  notes={"input_shape": [None, 1, 8, 8]})


BUILDERS = {"binary_text": build_binary_text, "multiclass": build_multiclass, "regression": build_regression,
            "quarterly": build_quarterly, "small": build_small, "image": build_image}
