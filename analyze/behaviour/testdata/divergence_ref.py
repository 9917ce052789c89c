#!/usr/bin/python3
"""Reference PSI and Jensen-Shannon values for divergence_test.go.

Run: /usr/bin/python3 testdata/divergence_ref.py > testdata/divergence_ref.json
(from analyze/behaviour; numpy + scipy 1.10).

PSI: sum((a - e) * ln(a / e)) over bin proportions clamped below at 1e-4,
bins empty on both sides skipped. JS: scipy.spatial.distance.jensenshannon
(base 2) squared.
"""
import json

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import beta

EPS = 1e-4


def psi(expected, actual):
    e = np.asarray(expected, float)
    a = np.asarray(actual, float)
    keep = (e > 0) | (a > 0)
    e = np.maximum(e / e.sum(), EPS)[keep]
    a = np.maximum(a / a.sum(), EPS)[keep]
    return float(np.sum((a - e) * np.log(a / e)))


def js(p, q):
    return float(jensenshannon(np.asarray(p, float), np.asarray(q, float), base=2) ** 2)


rng = np.random.default_rng(12)
edges = np.linspace(0, 1, 21)


def hist(a, b, n):
    x = beta.rvs(a, b, size=n, random_state=rng)
    return np.histogram(x, bins=edges)[0].tolist()


cases = [
    ("identical", [5, 10, 20, 40, 25], [5, 10, 20, 40, 25]),
    ("scaled", [1, 2, 3, 4], [10, 20, 30, 40]),
    ("small shift", [100, 200, 300, 250, 150], [120, 210, 280, 240, 150]),
    ("empty bin in actual", [10, 20, 30, 40], [0, 25, 35, 40]),
    ("empty bin in expected", [0, 25, 35, 40], [10, 20, 30, 40]),
    ("both empty in a bin", [10, 0, 30, 60], [20, 0, 30, 50]),
    ("disjoint", [10, 20, 0, 0], [0, 0, 5, 5]),
    ("beta 8,2 vs 8,2", hist(8, 2, 5000), hist(8, 2, 5000)),
    ("beta 8,2 vs 5,2", hist(8, 2, 5000), hist(5, 2, 5000)),
    ("beta 2,2 vs 2,5", hist(2, 2, 3000), hist(2, 5, 4000)),
]
out = [{"name": n, "expected": e, "actual": a, "psi": psi(e, a), "js": js(e, a)} for n, e, a in cases]
print(json.dumps(out, indent=1))
