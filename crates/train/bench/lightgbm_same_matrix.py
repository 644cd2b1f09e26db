#!/usr/bin/env python3
"""LightGBM on exactly the matrix fraudstream-train trained on (written by the train_bench example).

usage: lightgbm_same_matrix.py OUT_DIR [ROUNDS] [THREADS]

OUT_DIR holds matrix.npy (f32 [rows, features]: numbers as f32, categories as fraudstream-train's codes, NaN for
missing), labels.npy (u8) and split.json (train_rows). Same parameters as the anchor and the example: lr 0.05,
31 leaves, 255 bins, min_data_in_leaf 20, feature_fraction 0.8, bagging 0.8 every round, time-ordered split.
The timer covers lgb.train only (dataset construction included, as in ../shared/bench/lgbm_bench.py); cpu_s is the
process's CPU time over the same span (steadier than wall time when other jobs share the machine).
"""
import json
import sys
import time

import lightgbm as lgb
import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

out = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 300
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
X = np.load(f"{out}/matrix.npy")
y = np.load(f"{out}/labels.npy").astype(np.float32)
split = json.load(open(f"{out}/split.json"))
cut = split["train_rows"]
params = dict(objective="binary", learning_rate=0.05, num_leaves=31, max_bin=255, min_data_in_leaf=20,
              feature_fraction=0.8, bagging_fraction=0.8, bagging_freq=1, num_threads=threads, verbose=-1, seed=1)
t0, c0 = time.perf_counter(), time.process_time()
m = lgb.train(params, lgb.Dataset(X[:cut], y[:cut]), num_boost_round=rounds)
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
p = m.predict(X[cut:])
print(f"lightgbm {lgb.__version__} same matrix rows={cut} features={X.shape[1]} rounds={rounds} threads={threads} "
      f"train_s={dt:.1f} cpu_s={cpu:.1f} auc={roc_auc_score(y[cut:], p):.5f} "
      f"pr_auc={average_precision_score(y[cut:], p):.4f}")
