"""TreeSHAP speed: fraudstream-model's `Model::explain` against LightGBM's own `pred_contrib` (C++), single-threaded,
same model, same rows, same session, rounds alternating between the two.

The model is seed-sized — 1,100 trees of 31 leaves on 75 features with missing values — trained here on generated
data and exported with onnxmltools, with LightGBM's covers written into `nodes_hitrates` (see
`fixtures/make_fixtures.py`, `with_covers`). It lives in `target/shap-bench/` and is never committed.

Run from the workspace root, with the fixtures' pinned packages (fixtures/requirements.txt):

    cargo build --release -p fraudstream-model --example explain_bench -j2
    python crates/model/benches/shap_vs_lightgbm.py [--rounds 7] [--rows 1000]

Each round times LightGBM on all rows (`num_threads=1`), then runs `target/release/examples/explain_bench`, which
times `Model::explain` on the same rows on one thread (after a warm-up call, excluding loading). Before timing, the
two sets of contributions are compared. Prints explanations/s per round, the medians and the ratio.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
from make_fixtures import covers_lightgbm, with_covers  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "target", "shap-bench")
BIN = os.path.join(ROOT, "target", "release", "examples", "explain_bench")
F = 75


def data(rng, n):
    x = np.round(rng.normal(size=(n, F)) * 3, 2).astype(np.float32)
    logit = (x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3] / 3 + np.sin(x[:, 4]) + 0.2 * x[:, 5:40].sum(1) / 3
             - 0.1 * x[:, 40:].sum(1) / 3)
    y = (logit + rng.normal(scale=1.0, size=n) > 0.5).astype(np.int64)
    x[rng.random(x.shape) < 0.1] = np.nan
    return x, y


def build(rows):
    import lightgbm as lgb
    from onnxmltools.convert import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    os.makedirs(OUT, exist_ok=True)
    model_path = os.path.join(OUT, "lgbm_1100x31.onnx")
    rng = np.random.default_rng(75)
    x, y = data(rng, 30000)
    xt, _ = data(rng, rows)
    m = lgb.LGBMClassifier(n_estimators=1100, num_leaves=31, learning_rate=0.03, min_child_samples=20,
                           subsample=0.8, subsample_freq=1, colsample_bytree=0.8, verbose=-1, n_jobs=2).fit(x, y)
    booster = m.booster_
    booster.save_model(os.path.join(OUT, "lgbm_1100x31.txt"))
    leaves = [t["num_leaves"] for t in booster.dump_model()["tree_info"]]
    print(f"trained {len(leaves)} trees, {min(leaves)}–{max(leaves)} leaves (mean {np.mean(leaves):.1f})")
    onx = convert_lightgbm(m, initial_types=[("input", FloatTensorType([None, F]))], zipmap=False, target_opset=15)
    with open(model_path, "wb") as f:
        f.write(with_covers(onx, covers_lightgbm(booster)).SerializeToString())
    rows_path = os.path.join(OUT, "rows.f32")
    xt.astype("<f4").tofile(rows_path)
    return booster, xt.astype(np.float64), model_path, rows_path


def ours(model_path, rows_path, check_path=None):
    args = [BIN, model_path, rows_path] + ([check_path] if check_path else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return float(out.split()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--rows", type=int, default=1000)
    a = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit(f"build {BIN} first: cargo build --release -p fraudstream-model --example explain_bench -j2")
    booster, x, model_path, rows_path = build(a.rows)

    want = booster.predict(x, pred_contrib=True, num_threads=1)
    check_path = os.path.join(OUT, "ours.f64")
    ours(model_path, rows_path, check_path)
    got = np.fromfile(check_path, dtype="<f8").reshape(want.shape)
    print(f"max |ours - LightGBM| over {x.shape[0]} rows x {want.shape[1]} values: {np.abs(got - want).max():.2e}")

    lgb_rates, our_rates = [], []
    for k in range(a.rounds):
        t = time.perf_counter()
        booster.predict(x, pred_contrib=True, num_threads=1)
        lgb_rates.append(x.shape[0] / (time.perf_counter() - t))
        our_rates.append(ours(model_path, rows_path))
        print(f"round {k + 1}: LightGBM {lgb_rates[-1]:,.0f}/s  ours {our_rates[-1]:,.0f}/s  "
              f"ratio {our_rates[-1] / lgb_rates[-1]:.2f}x", flush=True)
    ratios = [o / l for o, l in zip(our_rates, lgb_rates)]
    print(f"median explanations/s: LightGBM pred_contrib {statistics.median(lgb_rates):,.0f}, "
          f"fraudstream-model {statistics.median(our_rates):,.0f}; median per-round ratio "
          f"{statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}x)")


if __name__ == "__main__":
    main()
