#!/usr/bin/env python3
"""Scores fraudstream-train's model.onnx with onnxruntime and compares with the trainer's own probabilities.

usage: check_onnxruntime.py OUT_DIR

OUT_DIR is the train_bench example's output: model.onnx and onnx_sample.json (raw feature values of validation rows,
null = missing number, "" = missing category, plus the trainer's probability per row). Exits non-zero when a
probability differs by more than 1e-6.
"""
import json
import sys

import numpy as np
import onnxruntime as ort

out = sys.argv[1]
sample = json.load(open(f"{out}/onnx_sample.json"))
sess = ort.InferenceSession(f"{out}/model.onnx", providers=["CPUExecutionProvider"])
feeds = {}
for i in sess.get_inputs():
    values = sample["inputs"][i.name]
    if i.type == "tensor(string)":
        feeds[i.name] = np.array(values, dtype=object).reshape(-1, 1)
    else:
        feeds[i.name] = np.array([np.nan if v is None else v for v in values], dtype=np.float32).reshape(-1, 1)
label, proba = sess.run(["label", "probabilities"], feeds)
ours = np.array(sample["p"], dtype=np.float64)
diff = np.abs(proba[:, 1].astype(np.float64) - ours)
print(f"onnxruntime {ort.__version__}: {len(ours)} rows, {len(feeds)} inputs, max |p_ort - p_ours| = {diff.max():.3g}, "
      f"labels agree with p > 0.5: {bool(np.all(label == (proba[:, 1] > 0.5)))}")
sys.exit(0 if diff.max() <= 1e-6 else 1)
