#!/usr/bin/env python3
"""scikit-learn (liblinear) baseline for poisonkit's training benchmark.

For each dataset it measures what poisonkit's trainer is compared against:
  * loadSeconds  - reading the gzip'd svmlight train file with load_svmlight_file
                   (plus a negligible cast of its index arrays to int32);
  * trainSeconds - best of --repeat calls to .fit() only (LinearSVC hinge, and with
                   --logistic also LogisticRegression liblinear; on 10-class mnist
                   LinearSVC(multi_class='crammer_singer')), C = 1/(n*lambda);
  * quality      - test/train error and the objective poisonkit minimizes,
                   (lambda/2)(|w|^2 + b^2) + mean_i loss(y_i (w.x_i + b)),
                   which is liblinear's objective divided by C*n (with
                   fit_intercept=True and intercept_scaling=1 liblinear regularizes b
                   like a weight); on mnist the multi-class hinge
                   max(0, 1 + max_{j != y} s_j - s_y) and (lambda/2)(|W|^2 + |b|^2).
Prints one JSON object per (dataset, loss) on stdout; warnings go to stderr.
"""
import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_svmlight_file
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

DIMS = {"enron": 5116, "imdb": 89527, "mnist17": 784, "mnist": 784}
LAMBDAS = {"enron": 0.09, "imdb": 0.01, "mnist17": 0.01, "mnist": 0.001}
DEFAULT_DATA = os.environ.get(
    "POISONKIT_DATA", str(Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))


def load(path, d):
    """load_svmlight_file, with int32 index arrays: scikit-learn 1.9.1 on scipy 1.17
    returns int64 ones, which liblinear rejects ("Only ... 32-bit integer indices")."""
    X, y = load_svmlight_file(str(path), n_features=d)
    X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)
    return X, y


def make_model(loss, C, tol, max_iter):
    if loss == "crammer-singer":
        return LinearSVC(multi_class="crammer_singer", C=C, tol=tol, max_iter=max_iter,
                         fit_intercept=True, intercept_scaling=1, random_state=24)
    if loss == "hinge":
        return LinearSVC(loss="hinge", penalty="l2", C=C, tol=tol, max_iter=max_iter,
                         fit_intercept=True, intercept_scaling=1, dual=True,
                         random_state=24)
    return LogisticRegression(solver="liblinear", C=C, tol=tol, max_iter=max_iter,
                              fit_intercept=True, intercept_scaling=1)


def run(name, data, losses, repeat, tol, max_iter):
    d, lam = DIMS[name], LAMBDAS[name]
    t0 = time.perf_counter()
    X, y = load(Path(data) / f"{name}.train.svm.gz", d)
    load_seconds = time.perf_counter() - t0
    Xt, yt = load(Path(data) / f"{name}.test.svm.gz", d)
    n = X.shape[0]
    for loss in losses:
        best = float("inf")
        for _ in range(repeat):
            model = make_model(loss, 1.0 / (n * lam), tol, max_iter)
            t0 = time.perf_counter()
            model.fit(X, y)
            best = min(best, time.perf_counter() - t0)
        w, b = model.coef_.astype(np.float64), model.intercept_.astype(np.float64)
        if loss == "crammer-singer":
            scores = X @ w.T + b
            rows, labels = np.arange(n), y.astype(int)
            own = scores[rows, labels].copy()
            scores[rows, labels] = -np.inf
            mean_loss = np.maximum(0.0, 1.0 + scores.max(axis=1) - own).mean()
        elif loss == "hinge":
            mean_loss = np.maximum(0.0, 1.0 - y * (X @ w.ravel() + b[0])).mean()
        else:
            mean_loss = np.logaddexp(0.0, -y * (X @ w.ravel() + b[0])).mean()
        objective = 0.5 * lam * ((w * w).sum() + b @ b) + mean_loss
        print(json.dumps({
            "dataset": name, "loss": loss, "n": n, "d": d, "lambda": lam,
            "loadSeconds": load_seconds, "trainSeconds": best,
            "testError": 1.0 - model.score(Xt, yt),
            "trainError": 1.0 - model.score(X, y),
            "objective": float(objective),
            "iterations": int(np.max(model.n_iter_)),
            "wNorm": float(np.linalg.norm(w)), "bias": b.tolist() if b.size > 1 else float(b[0]),
        }), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("datasets", nargs="*", metavar="DATASET",
                   help=f"any of {', '.join(DIMS)} (default: enron imdb)")
    p.add_argument("--data", default=DEFAULT_DATA,
                   help="folder with <name>.{train,test}.svm.gz (default: $POISONKIT_DATA "
                        "or ../shared/data from the project root)")
    p.add_argument("--repeat", type=int, default=3, help="fit runs; best time is reported")
    p.add_argument("--logistic", action="store_true",
                   help="also run LogisticRegression (liblinear)")
    p.add_argument("--tol", type=float, default=1e-6, help="solver tolerance")
    p.add_argument("--max-iter", type=int, default=100000, help="solver iteration cap")
    args = p.parse_args()
    for name in args.datasets:
        if name not in DIMS:
            p.error(f"unknown dataset {name!r} (choose from {', '.join(DIMS)})")
    warnings.simplefilter("default")  # show every warning (on stderr) without repeats
    losses = ["hinge"] + (["logistic"] if args.logistic else [])
    for name in args.datasets or ["enron", "imdb"]:
        run(name, args.data, ["crammer-singer"] if name == "mnist" else losses,
            max(1, args.repeat), args.tol, args.max_iter)


if __name__ == "__main__":
    sys.exit(main())
