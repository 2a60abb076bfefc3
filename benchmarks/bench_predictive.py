"""Predictive scoring: ROC AUC beside scikit-learn on held-out leads, and training time.

Run: python benchmarks/bench_predictive.py [--quick] [--train-leads N]
(needs the ``benchmarks`` extra for scikit-learn: pip install -e '.[benchmarks]')

1. Splits the X Education leads (``../shared/data/xeducation_leads.csv``; the seeded
   generator when the file is missing) 70/30 with a fixed seed, trains both
   :func:`~leadmodel.train_predictive` models on the 70 % and reports their ROC AUC on the
   30 %, beside scikit-learn's ``LogisticRegression`` (C=1, lbfgs) trained on the same
   features encoded the same way (one-hot categories and tags, standardised numbers,
   missing-number indicators) in the same run.
2. Times training both models on 100,000 historical leads (X Education rows resampled).
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from collections.abc import Sequence

import attrs
import xeducation

from leadmodel import Outcome, train_predictive
from leadmodel.rules.backtest import roc_auc
from leadmodel.rules.predictive import _number, _reader, _values_of


def split(data: list[Outcome], seed: int = 42) -> tuple[list[Outcome], list[Outcome]]:
    order = list(range(len(data)))
    random.Random(seed).shuffle(order)
    cut = int(len(data) * 0.7)
    return [data[i] for i in order[:cut]], [data[i] for i in order[cut:]]


def sklearn_auc(train: Sequence[Outcome], test: Sequence[Outcome], features: list[str]) -> float:
    """scikit-learn's LogisticRegression on the same encoding as leadmodel's logistic model."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    readers = [(f, _reader(f)) for f in features]
    raw_train = [[read(o.lead, o.activities) for _, read in readers] for o in train]
    numeric = {
        f
        for j, f in enumerate(features)
        if (present := [r[j] for r in raw_train if r[j] is not None and r[j] != ""])
        and all(_number(v) is not None for v in present)
    }

    def encode(outcomes: Sequence[Outcome]) -> list[dict[str, float]]:
        rows = []
        for o in outcomes:
            row: dict[str, float] = {}
            for feature, read in readers:
                raw = read(o.lead, o.activities)
                if feature in numeric:
                    number = _number(raw)
                    if number is None:
                        row[f"{feature}<missing>"] = 1.0
                    else:
                        row[feature] = number
                    continue
                for value in _values_of(raw):
                    row[f"{feature}={value}"] = 1.0
            rows.append(row)
        return rows

    vectorizer = DictVectorizer(sparse=False)
    x_train = vectorizer.fit_transform(encode(train))
    x_test = vectorizer.transform(encode(test))
    columns = [i for i, name in enumerate(vectorizer.feature_names_) if name in numeric]
    scaler = StandardScaler().fit(x_train[:, columns])
    x_train[:, columns] = scaler.transform(x_train[:, columns])
    x_test[:, columns] = scaler.transform(x_test[:, columns])
    model = LogisticRegression(C=1.0, max_iter=5000).fit(x_train, [o.won for o in train])
    return roc_auc(model.predict_proba(x_test)[:, 1].tolist(), [o.won for o in test])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 training leads")
    parser.add_argument("--train-leads", type=int, default=100_000)
    args = parser.parse_args()
    if xeducation.DATA.exists():
        data, features, name = xeducation.load(), xeducation.FEATURES, "X Education"
    else:
        data = xeducation.synthetic(9240)
        features, name = ["source", "custom.visits", "custom.occupation"], "synthetic"
    train, test = split(data)
    labels = [o.won for o in test]
    print(
        f"python {platform.python_version()}: {name} leads, {len(train):,} to train, "
        f"{len(test):,} held out ({sum(labels) / len(labels):.1%} converted), "
        f"{len(features)} features"
    )
    print(f"{'model':<44}{'ROC AUC':>9}{'train s':>9}")
    aucs = {}
    for kind in ("naive_bayes", "logistic"):
        start = time.perf_counter()
        model = train_predictive(train, features=features, kind=kind)  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
        aucs[kind] = roc_auc([model.predict(o.lead).probability for o in test], labels)
        print(f"{'leadmodel ' + kind:<44}{aucs[kind]:>9.4f}{seconds:>9.2f}")
    try:
        start = time.perf_counter()
        reference = sklearn_auc(train, test, features)
        seconds = time.perf_counter() - start
        print(f"{'scikit-learn LogisticRegression (C=1)':<44}{reference:>9.4f}{seconds:>9.2f}")
        print(f"logistic - scikit-learn: {aucs['logistic'] - reference:+.4f} (target within 0.01)")
    except ImportError:
        print("scikit-learn is not installed: pip install -e '.[benchmarks]' for the reference")

    n = 20_000 if args.quick else args.train_leads
    rng = random.Random(9)
    history = [
        attrs.evolve(o, lead=attrs.evolve(o.lead, id=f"H{i:07d}"))
        for i, o in enumerate(rng.choices(data, k=n))
    ]
    print(f"training on {n:,} historical leads ({len(features)} features)")
    for kind in ("naive_bayes", "logistic"):
        start = time.perf_counter()
        train_predictive(history, features=features, kind=kind)  # type: ignore[arg-type]
        print(f"{'  ' + kind:<44}{time.perf_counter() - start:>9.2f} s (target 10 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
