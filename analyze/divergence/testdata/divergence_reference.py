#!/usr/bin/env python3
"""Reference values for analyze/divergence_stats_test.go.

scipy and numpy are not installed where these were made, so every value is
computed here from the textbook definitions in plain Python (math and
random only), independently of the Go code, and written to
divergence_reference.json. The tiny cases were also checked by hand; see
"hand" in the JSON. Run: python3 divergence_reference.py > divergence_reference.json
"""
import json, math, random

def quantile7(s, q):  # Hyndman-Fan type 7 (numpy's default "linear")
    h = q * (len(s) - 1)
    lo = math.floor(h)
    if lo >= len(s) - 1:
        return s[-1]
    return s[lo] + (h - lo) * (s[lo + 1] - s[lo])

def bins(p):
    s = sorted(p)
    edges = []
    for i in range(1, 10):
        e = quantile7(s, i / 10)
        if not edges or e > edges[-1]:
            edges.append(e)
    return edges

def shares(x, edges):
    c = [0] * (len(edges) + 1)
    for v in x:
        b = sum(1 for e in edges if v > e)  # bin (e[b-1], e[b]]
        c[b] += 1
    return [k / len(x) for k in c]

def psi(p, q):
    e = bins(p)
    a, b = shares(p, e), shares(q, e)
    return sum((max(y, 1e-4) - max(x, 1e-4)) * math.log(max(y, 1e-4) / max(x, 1e-4)) for x, y in zip(a, b))

def js(p, q):
    e = bins(p)
    a, b = shares(p, e), shares(q, e)
    t = 0.0
    for x, y in zip(a, b):
        m = (x + y) / 2
        if x > 0: t += 0.5 * x * math.log2(x / m)
        if y > 0: t += 0.5 * y * math.log2(y / m)
    return t

def ecdf(x, t):
    return sum(1 for v in x if v <= t) / len(x)

def ks(p, q):  # sup |F_p - F_q| over all sample points
    return max(abs(ecdf(p, t) - ecdf(q, t)) for t in p + q)

def w1(p, q):  # integral of |F_p - F_q| between consecutive sample points
    pts = sorted(set(p + q))
    return sum(abs(ecdf(p, a) - ecdf(q, a)) * (b - a) for a, b in zip(pts, pts[1:]))

def pop_sd(x):
    m = sum(x) / len(x)
    return math.sqrt(sum((v - m) ** 2 for v in x) / len(x))

def rbo_ext(a, b, p):  # Webber et al. 2010, eq. 32, even lists, depth k
    k = min(len(a), len(b))
    x = lambda d: len(set(a[:d]) & set(b[:d]))
    return x(k) / k * p ** k + (1 - p) / p * sum(x(d) / d * p ** d for d in range(1, k + 1))

def jaccard(a, b):
    return len(set(a) & set(b)) / len(set(a) | set(b))

def lev(a, b):  # full-matrix Wagner-Fischer
    D = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1): D[i][0] = i
    for j in range(len(b) + 1): D[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            D[i][j] = min(D[i-1][j] + 1, D[i][j-1] + 1, D[i-1][j-1] + (a[i-1] != b[j-1]))
    return D[-1][-1]

rng = random.Random(20240601)
cases = {
    "shift": ([float(i) for i in range(1, 11)], [float(i) for i in range(2, 12)]),
    "uneven": ([0.2, 0.4, 0.6, 0.8], [0.5, 0.9, 0.7]),
    "ties": ([1.0, 1.0, 1.0, 0.5, 0.9], [1.0, 0.8, 0.8, 0.5]),
    "normal": ([round(rng.gauss(0, 1), 6) for _ in range(200)], [round(rng.gauss(0.3, 1.2), 6) for _ in range(150)]),
}
out = {
    "note": "Computed by analyze/divergence/testdata/divergence_reference.py in plain Python from the "
            "textbook definitions (scipy/numpy unavailable): PSI and JS over 10 bins at the "
            "primary's type-7 deciles (repeated edges merged; bins (-inf,e1],...,(e9,+inf)); "
            "PSI shares floored at 1e-4, natural log; JS in bits; KS D = sup|F_p-F_q| over "
            "sample points; W1 = integral of |F_p-F_q|; w1_norm = W1 / population sd of p. "
            "Hand check of 'shift': PSI = (1e-4-0.1)ln(1e-4/0.1) + 0.1 ln 2 = 0.759400; "
            "JS = 0.05 + 0.05 log2(2/3) + 0.1 log2(4/3) = 0.062256; KS = 0.1; W1 = 1.",
    "drift": {},
}
for name, (p, q) in cases.items():
    out["drift"][name] = {"p": p, "q": q, "psi": psi(p, q), "js": js(p, q), "ks": ks(p, q),
                          "w1": w1(p, q), "w1_norm": w1(p, q) / pop_sd(p)}
out["rbo"] = [
    {"a": a, "b": b, "p": 0.9, "rbo": rbo_ext(a, b, 0.9), "jaccard": jaccard(a, b)}
    for a, b in [
        (["1", "2"], ["2", "1"]),  # by hand: 0.81 + (0.1/0.9)(0.81) = 0.9
        (["a", "b", "c", "d", "e"], ["a", "b", "c", "d", "e"]),
        (["a", "b", "c"], ["d", "e", "f"]),
        (["a", "b", "c", "d", "e", "f", "g"], ["z", "c", "a", "v", "w", "j", "b"]),
        (["a", "b", "c", "d"], ["b", "a", "d", "c"]),
    ]
]
out["levenshtein"] = [
    {"a": a, "b": b, "unit": u, "distance": lev(list(a) if u == "rune" else a.split(), list(b) if u == "rune" else b.split())}
    for a, b, u in [
        ("kitten", "sitting", "rune"),
        ("flaw", "lawn", "rune"),
        ("the cat sat on the mat", "the cat sat on a mat", "word"),
        ("a b c d", "", "word"),
        ("one two three four", "two three four five", "word"),
    ]
]
print(json.dumps(out, indent=1))
