"""Writes wrk request bodies for the seed model from the real sample: one row (single.json) and 100 rows
(batch100.json), in the AZUREML-PANDAS-DATAFRAME shape Confluent's ML_PREDICT sends. DT_D/DT_W/DT_M are left
out on purpose: the server derives them from TransactionDT, which is the path a real client exercises.

Usage: python3 make_bodies.py ../../../../shared/reference OUT_DIR
"""
import csv, json, os, sys

ref, out = sys.argv[1], sys.argv[2]
COLS = ("TransactionID TransactionDT TransactionAmt ProductCD card1 card2 card3 card4 card5 card6 addr1 addr2 "
        "P_emaildomain C1 C2 C3 C4 C5 C6 C7 C8 C9 C10 C11 C12 C13 C14 D1 D4 D10 D15 M6 "
        + " ".join(f"V{i}" for i in range(12, 31))
        + " id_01 id_02 id_05 id_06 id_11 id_12 id_13 id_15 id_16 id_17 id_19 id_20 id_28 id_29 id_31 id_35 id_36 "
          "id_37 id_38 DeviceType DeviceInfo").split()
STR = set("ProductCD card4 card6 P_emaildomain M6 id_12 id_15 id_16 id_28 id_29 id_31 id_35 id_36 id_37 id_38 "
          "DeviceType DeviceInfo".split())
ids = {r["TransactionID"]: r for r in csv.DictReader(open(os.path.join(ref, "ieee-cis-sample/train_identity.csv")))}
rows = []
for r in csv.DictReader(open(os.path.join(ref, "ieee-cis-sample/train_transaction.csv"))):
    r.update(ids.get(r["TransactionID"], {}))
    row = []
    for c in COLS:
        v = r.get(c, "")
        row.append(None if v == "" else (v if c in STR else float(v)))
    rows.append(row)
    if len(rows) == 100:
        break
os.makedirs(out, exist_ok=True)
for name, data in (("single.json", rows[:1]), ("batch100.json", rows)):
    body = {"input_data": {"columns": COLS, "index": list(range(len(data))), "data": data}}
    open(os.path.join(out, name), "w").write(json.dumps(body))
print(f"{len(COLS)} columns; wrote {out}/single.json and {out}/batch100.json")
