#!/usr/bin/env python3
"""scikit-learn/scipy baseline for poisonkit's defense evaluator (`poisonkit evaluate`).

Re-implements the authors' final evaluation (`test_defenses.py`; design/reference-digest.md
§2.2-2.3, the paper's "emp" defender), so that poisonkit's Rust evaluator can be timed against
it and its errors checked:
  1. X_mod = [clean train; poison]; undefended defender = LinearSVC(hinge, C = 1/(N*lambda),
     tol 1e-6, max_iter 4000, bias regularized, random_state 24) on X_mod -> test error `none`;
  2. five anomaly scores, all fitted on X_mod, for every row of X_mod:
       l2   |x - mu_y|                                 (mu_y: class centroid of X_mod)
       slab |v.x - v.mu_y|, v = (mu_- - mu_+)/|mu_- - mu_+|
       loss 1 - y(w.x + b) of the undefended model, not clipped at 0
       svd  |(I - P'P)(x - mu_y)|, P = orth([V_k; mu_+; mu_-]), V from svds(X_mod, k=min(1000, d-1))
            on the uncentered matrix, k = first 0-based index whose cumulative sigma^2 share of
            |X_mod|_F^2 exceeds 0.95 (none: k = -1, i.e. V[:-1])
       knn  sum of the distances to the 5 nearest rows of X_mod (the row itself included);
  3. per class keep the round(0.95 n_y) lowest scores (numpy round half to even, stable argsort),
     retrain with C = 1/(|kept|*lambda), record the test error and the fraction of poison kept.
Prints one JSON object per poison file (or one for the clean data when --poison is omitted) on
stdout: test errors as fractions, `min` over the defenses run, `poisonKept`/`cleanKept`, and
`seconds` = {load, none (undefended training), per defense scoring + retraining, total = none +
the defenses (loading excluded)}. Warnings (e.g. liblinear not converging) go to stderr.

Cost: Enron (4137 + 124 rows, d 5116) takes tens of seconds, most of it in svds with k = 1000
(ARPACK). IMDB (25000 rows, d 89527) takes very long (svds k = 1000 there needs ~2000 Lanczos
vectors of length 89527 and many restarts; expect hours); do not use it in routine runs.
"""
import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import svds
from sklearn.datasets import load_svmlight_file
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import LinearSVC

DEFENSES = ["l2", "slab", "loss", "svd", "knn"]
REMOVE = 0.05  # max_frac_to_remove of the reference driver
SVD_MAX_K = 1000
SVD_SHARE = 0.95
KNN_NEIGHBORS = 5


def int32(X):
    """liblinear in scikit-learn 1.9.1 rejects int64 index arrays, which load_svmlight_file,
    vstack and row indexing produce on scipy 1.17; cast them (cheap)."""
    X = sp.csr_matrix(X)
    X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)
    return X


def load(path, d):
    X, y = load_svmlight_file(str(path), n_features=d)
    return int32(X), y.astype(np.float64)


def fit(X, y, lam):
    model = LinearSVC(loss="hinge", penalty="l2", C=1.0 / (X.shape[0] * lam), tol=1e-6,
                      max_iter=4000, fit_intercept=True, intercept_scaling=1, dual=True,
                      random_state=24)
    return model.fit(X, y)


def centroids(X, y):
    """{label: class centroid of X as a dense vector}."""
    return {c: np.asarray(X[y == c].mean(axis=0)).ravel() for c in (-1.0, 1.0)}


def sq_norms(X):
    return np.asarray(X.multiply(X).sum(axis=1)).ravel()


def score_l2(X, y, ctx):
    mu = centroids(X, y)
    xx, out = sq_norms(X), np.empty(X.shape[0])
    for c, m in mu.items():  # |x - mu|^2 = |x|^2 - 2 x.mu + |mu|^2, as sklearn's euclidean
        rows = y == c
        out[rows] = xx[rows] - 2.0 * (X[rows] @ m) + m @ m
    return np.sqrt(np.maximum(out, 0.0))


def score_slab(X, y, ctx):
    mu = centroids(X, y)
    v = mu[-1.0] - mu[1.0]
    v /= np.linalg.norm(v)
    proj = X @ v
    return np.abs(proj - np.where(y > 0, mu[1.0] @ v, mu[-1.0] @ v))


def score_loss(X, y, ctx):
    model = ctx["model"]
    return 1.0 - y * (X @ model.coef_.ravel() + model.intercept_[0])


def score_svd(X, y, ctx):
    d = X.shape[1]
    k_svd = min(SVD_MAX_K, d - 1)
    _, s, vt = svds(X, k=k_svd, rng=ctx["seed"])
    order = np.argsort(-s, kind="stable")
    s, vt = s[order], vt[order]
    ratios = np.cumsum(s ** 2) / (X.data ** 2).sum()
    above = np.flatnonzero(ratios > SVD_SHARE)
    k = int(above[0]) if above.size else -1
    mu = centroids(X, y)
    P = scipy.linalg.orth(np.vstack([vt[:k], mu[1.0], mu[-1.0]]).T).T  # rows orthonormal
    ctx["svdRank"], ctx["svdK"] = int(P.shape[0]), k
    XP = X @ P.T  # n x rank
    xx, out = sq_norms(X), np.empty(X.shape[0])
    for c, m in mu.items():
        rows = y == c
        total = xx[rows] - 2.0 * (X[rows] @ m) + m @ m      # |x - mu|^2
        inside = ((XP[rows] - P @ m) ** 2).sum(axis=1)     # |P(x - mu)|^2
        out[rows] = total - inside
    return np.sqrt(np.maximum(out, 0.0))


def score_knn(X, y, ctx):
    dist, _ = NearestNeighbors(n_neighbors=KNN_NEIGHBORS).fit(X).kneighbors(X)
    return dist.sum(axis=1)


SCORERS = {"l2": score_l2, "slab": score_slab, "loss": score_loss, "svd": score_svd,
           "knn": score_knn}


def keep_mask(scores, y):
    """Per class, the round(0.95 n_y) lowest scores (np.round: half to even)."""
    keep = np.zeros(len(y), dtype=bool)
    for c in (-1.0, 1.0):
        idx = np.flatnonzero(y == c)
        n_keep = int(np.round((1.0 - REMOVE) * len(idx)))
        keep[idx[np.argsort(scores[idx], kind="stable")[:n_keep]]] = True
    return keep


def test_error(model, Xt, yt):
    return float(1.0 - model.score(Xt, yt))


def evaluate(X, y, Xt, yt, Xp, yp, lam, defenses, seed, name, poison_name, load_seconds):
    n = X.shape[0]
    if Xp is not None:
        X_mod, y_mod = int32(sp.vstack([X, Xp], format="csr")), np.concatenate([y, yp])
    else:
        X_mod, y_mod = X, y
    m = X_mod.shape[0] - n
    ctx = {"seed": seed}
    t_all = time.perf_counter()
    ctx["model"] = fit(X_mod, y_mod, lam)
    seconds = {"load": load_seconds, "none": time.perf_counter() - t_all}
    out = {"dataset": name, "poison": poison_name, "n": n, "m": m, "d": X.shape[1],
           "lambda": lam, "none": test_error(ctx["model"], Xt, yt)}
    kept_poison, kept_clean = {}, {}
    for name_def in defenses:
        t0 = time.perf_counter()
        scores = SCORERS[name_def](X_mod, y_mod, ctx)
        keep = keep_mask(scores, y_mod)
        model = fit(int32(X_mod[keep]), y_mod[keep], lam)
        seconds[name_def] = time.perf_counter() - t0
        out[name_def] = test_error(model, Xt, yt)
        kept_poison[name_def] = float(keep[n:].mean()) if m else None
        kept_clean[name_def] = float(keep[:n].mean())
    seconds["total"] = time.perf_counter() - t_all
    out["min"] = min(out[k] for k in defenses) if defenses else None
    out["poisonKept"], out["cleanKept"] = kept_poison, kept_clean
    if "svdK" in ctx:
        out["svdK"], out["svdRank"] = ctx["svdK"], ctx["svdRank"]
    out["seconds"] = seconds
    return out


def stem(path):
    name = Path(path).name
    for suffix in (".gz", ".svm", ".libsvm", ".txt"):
        name = name[: -len(suffix)] if name.endswith(suffix) else name
    return name


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", required=True, help="clean training data (svmlight, .gz allowed)")
    p.add_argument("--test", required=True, help="test data")
    p.add_argument("--poison", nargs="+", metavar="F",
                   help="poison file(s), one JSON line each (omit: evaluate the clean data)")
    p.add_argument("--lambda", dest="lam", type=float, required=True,
                   help="regularization strength (enron 0.09, imdb 0.01, mnist17 0.01)")
    p.add_argument("--d", type=int, required=True, help="number of features")
    p.add_argument("--defenses", default=",".join(DEFENSES),
                   help=f"comma-separated subset of {','.join(DEFENSES)} (default: all)")
    p.add_argument("--name", help="dataset name in the output (default: train file name up to "
                                  "its first dot)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of svds' ARPACK start vector (the reference leaves it random)")
    args = p.parse_args()
    defenses = [s.strip() for s in args.defenses.split(",") if s.strip()]
    for dname in defenses:
        if dname not in SCORERS:
            p.error(f"unknown defense {dname!r} (choose from {', '.join(DEFENSES)})")
    if not args.lam > 0:
        p.error("--lambda must be positive")
    warnings.simplefilter("default")  # show every warning (on stderr) without repeats

    name = args.name or Path(args.train).name.split(".")[0]
    t0 = time.perf_counter()
    X, y = load(args.train, args.d)
    Xt, yt = load(args.test, args.d)
    load_seconds = time.perf_counter() - t0
    for path in args.poison or [None]:
        Xp = yp = None
        extra = 0.0
        if path is not None:
            t0 = time.perf_counter()
            Xp, yp = load(path, args.d)
            extra = time.perf_counter() - t0
            if Xp.shape[0] == 0:
                p.error(f"{path}: no poison points (omit --poison to evaluate the clean data)")
        result = evaluate(X, y, Xt, yt, Xp, yp, args.lam, defenses, args.seed, name,
                          stem(path) if path else None, load_seconds + extra)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
