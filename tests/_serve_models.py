"""Tiny bundles for the serving tests: a classifier, one that raises on a marked row, a slow one, and a regressor."""
import numpy as np, pandas as pd, torch
from torch import nn
from prodkit.core import TabularAdapter
from prodkit.versioning import save_bundle

def frame(n=64, seed=0) -> pd.DataFrame:
    g = np.random.default_rng(seed)
    return pd.DataFrame({"age": g.integers(18, 80, n).astype(float), "income": g.normal(50, 15, n).round(2),
                         "plan": g.choice(["basic", "plus", "pro"], n)})

class Raising(nn.Module):
    "A linear classifier that raises on a batch holding a row whose first encoded feature is above 50 (age far beyond training)."
    def __init__(self, k):
        super().__init__(); self.lin = nn.Linear(k, 2)
    def forward(self, x):
        if bool((x[:, 0] > 50).any()): raise RuntimeError("primary failed on purpose")
        return self.lin(x)

class Slow(nn.Module):
    "A linear classifier that burns CPU on every call (a few tens of milliseconds)."
    def __init__(self, k):
        super().__init__(); self.lin = nn.Linear(k, 2); self.w = nn.Parameter(torch.randn(256, 256) / 16, requires_grad=False)
    def forward(self, x):
        h = self.w
        for _ in range(10): h = torch.tanh(h @ self.w)
        return self.lin(x) + 0 * h.sum()

def write_bundles(out) -> dict:
    "Bundles of each kind under `out`, with the training frame."
    torch.manual_seed(0)
    df = frame(); ad = TabularAdapter().fit(df); k = ad.n_features_
    paths = {"frame": df, "adapter": ad}
    for name, model, kw in (("clf", nn.Linear(k, 2), dict(output="logits", classes=["no", "yes"])),
                            ("raising", Raising(k), dict(output="logits", classes=["no", "yes"])),
                            ("slow", Slow(k), dict(output="logits", classes=["no", "yes"])),
                            ("reg", nn.Linear(k, 1), dict(task="regression"))):
        paths[name] = save_bundle(out / name, model, ad, name=name, **kw)
    return paths
