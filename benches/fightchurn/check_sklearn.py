#!/usr/bin/env python3
"""Checks churnlake's calibrated model against scikit-learn on the same observations.

Reads the observations `churnlake calibrate --observations-out DIR` wrote (each feature
standardised as churnlake's model takes it, and the split in time) and the warehouse's
`model_evaluation`, fits scikit-learn's LogisticRegression with C = 1 / the penalty
churnlake chose on the training rows, and compares the test-period AUC. Exits 1 when they
differ by more than --tolerance (0.02). Prints both models' test AUC, lift in the riskiest
decile and surprise-churn rate as churnlake measured them.

    pip install duckdb scikit-learn numpy
    python3 benches/fightchurn/check_sklearn.py --observations /var/tmp/fc-obs \
        --warehouse /var/tmp/fc-wh
"""

import argparse
import sys

import duckdb
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--observations", required=True, help="--observations-out DIR")
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--tolerance", type=float, default=0.02)
    args = parser.parse_args()

    db = duckdb.connect()
    obs = db.sql(f"select * from read_parquet('{args.observations}/*.parquet')").fetchnumpy()
    features = [name for name in obs if name.endswith("_z")]
    x = np.column_stack([obs[name] for name in features]).astype(float)
    y = np.asarray(obs["churned"], dtype=bool)
    train = np.asarray(obs["split"]) == "train"
    test = ~train

    evaluation = db.sql(
        f"select model, split, model_version, observations, churners, auc, lift_top_decile, "
        f"surprise_churn_rate, penalty "
        f"from read_parquet('{args.warehouse}/model_evaluation/*.parquet') order by model, split"
    ).fetchall()
    by_key = {(row[0], row[1]): row for row in evaluation}
    penalty = by_key[("calibrated", "test")][8]
    # sklearn minimises ½‖w‖² + C Σ log loss; churnlake Σ log loss + ½λ‖w‖²: C = 1 / λ.
    model = LogisticRegression(C=1.0 / penalty if penalty > 0 else 1e12, tol=1e-10, max_iter=10000)
    model.fit(x[train], y[train])
    sklearn_auc = roc_auc_score(y[test], model.predict_proba(x[test])[:, 1])
    churnlake_auc = by_key[("calibrated", "test")][5]

    print(f"observations: {train.sum()} train, {test.sum()} test; features: {', '.join(features)}")
    print(f"penalty λ = {penalty} (C = {1.0 / penalty if penalty > 0 else float('inf'):g})")
    print(f"{'model':<22} {'split':<6} {'obs':>7} {'churners':>8} {'AUC':>6} {'lift':>6} {'surprise':>9}")
    for (name, split), row in sorted(by_key.items()):
        surprise = "-" if row[7] is None else f"{row[7] * 100:.1f}%"
        lift = "-" if row[6] is None else f"{row[6]:.2f}"
        auc = "-" if row[5] is None else f"{row[5]:.3f}"
        print(f"{f'v{row[2]} {name}':<22} {split:<6} {row[3]:>7} {row[4]:>8} {auc:>6} {lift:>6} {surprise:>9}")
    print(f"test AUC: churnlake {churnlake_auc:.4f}, scikit-learn {sklearn_auc:.4f}, "
          f"difference {abs(churnlake_auc - sklearn_auc):.4f} (tolerance {args.tolerance})")
    ours = dict(db.sql(
        f"select feature, coefficient from read_parquet('{args.warehouse}/model_features/*.parquet') "
        f"where model = 'calibrated'"
    ).fetchall())
    gaps = [abs(ours[name[:-2]] - c) for name, c in zip(features, model.coef_[0])]
    print(f"coefficients: largest difference from scikit-learn's {max(gaps):.2e}")
    for name, c in zip(features, model.coef_[0]):
        print(f"  {name[:-2]:<28} churnlake {ours[name[:-2]]:>9.4f}  scikit-learn {c:>9.4f}")
    return 0 if abs(churnlake_auc - sklearn_auc) <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
