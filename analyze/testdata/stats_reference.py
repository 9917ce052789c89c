#!/usr/bin/env python3
"""Reference values for analyze/stats_test.go (Mann-Whitney U, two proportions).

Regenerate from the repository root with the system Python, which has
scipy 1.10.1 and numpy (the pyenv python3 on PATH has neither):

    /usr/bin/python3 analyze/testdata/stats_reference.py > analyze/testdata/stats_reference.json

Every p-value and U comes from scipy itself:

  * Mann-Whitney: scipy.stats.mannwhitneyu(candidate, baseline,
    alternative=..., method="asymptotic", use_continuity=True) for the three
    alternatives. "u" is scipy's statistic, the U of the candidate (first
    argument). scipy does not return z; "z" is the signed continuity-corrected
    z of the Go API, sign(U-mu) * max(|U-mu| - 1/2, 0) / sigma, computed here
    from the tie-corrected sigma of scipy's _get_mwu_z and checked against
    norm.isf of scipy's own one-sided p-values (the script fails if they
    disagree).
  * Proportions: scipy.stats.chi2_contingency([[x1, n1-x1], [x2, n2-x2]],
    correction=False). Its p equals the pooled two-sided z-test p and
    chi2 = z^2; z takes the sign of p2 - p1, and the one-sided p-values are
    p/2 on the side of the sign and 1 - p/2 on the other.

The samples themselves are stored so that the Go test feeds the same numbers.

HDR histograms: "hdr" holds, for the integer cases, the same three results
for the samples mapped to their HDR lowest equivalent value (the value a
histogram of 1 us..1 h at 3 significant digits reports for the bucket; values
below 2048 are exact). The Go test records the raw samples into a histogram
and compares MannWhitneyHist with these, so the bucketing is checked too.
"""
import json
import math
import sys

import numpy as np
import scipy
from scipy import stats

ALTS = ("two-sided", "greater", "less")


def hdr_lowest_equivalent(v):
    """Lowest equivalent value of v in an HDR histogram with lowest
    discernible value 1 and 3 significant digits (sub-bucket count 2048)."""
    v = int(v)
    shift = (v | 2047).bit_length() - 11
    return (v >> shift) << shift


def mwu(candidate, baseline):
    c = np.asarray(candidate, dtype=float)
    b = np.asarray(baseline, dtype=float)
    out = {}
    u = None
    for alt in ALTS:
        r = stats.mannwhitneyu(c, b, alternative=alt, method="asymptotic",
                               use_continuity=True)
        if u is None:
            u = float(r.statistic)
        assert float(r.statistic) == u
        out[{"two-sided": "p_two_sided", "greater": "p_greater",
             "less": "p_less"}[alt]] = float(r.pvalue)
    n1, n2 = len(c), len(b)
    n = n1 + n2
    ranks = stats.rankdata(np.concatenate([c, b]))
    _, t = np.unique(ranks, return_counts=True)
    tie_term = float((t.astype(float) ** 3 - t).sum())
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    d = u - n1 * n2 / 2
    z = math.copysign(max(abs(d) - 0.5, 0.0), d) / sigma
    # Cross-check z against scipy's one-sided p-values.
    if d > 0:
        zs = stats.norm.isf(out["p_greater"])
    elif d < 0:
        zs = -stats.norm.isf(out["p_less"])
    else:
        zs = 0.0
    assert math.isclose(z, zs, rel_tol=1e-9, abs_tol=1e-12), (z, zs)
    out.update(u=u, z=z, tie_term=tie_term,
               cliffs_delta=2 * u / (n1 * n2) - 1)
    return out


def mw_case(name, baseline, candidate, integers=False):
    if integers:
        baseline = [int(v) for v in baseline]
        candidate = [int(v) for v in candidate]
    else:
        baseline = [float(v) for v in baseline]
        candidate = [float(v) for v in candidate]
    case = {"name": name, "baseline": baseline, "candidate": candidate,
            "want": mwu(candidate, baseline)}
    if integers:
        case["hdr"] = mwu([hdr_lowest_equivalent(v) for v in candidate],
                          [hdr_lowest_equivalent(v) for v in baseline])
    return case


def lognormal_micros(rng, median_micros, sigma, n):
    v = np.rint(rng.lognormal(math.log(median_micros), sigma, n))
    return np.maximum(v, 1).astype(np.int64)


def prop_case(name, x1, n1, x2, n2):
    chi2, p, _, _ = stats.chi2_contingency(
        [[x1, n1 - x1], [x2, n2 - x2]], correction=False)
    p1, p2 = x1 / n1, x2 / n2
    z = math.copysign(math.sqrt(chi2), p2 - p1) if p2 != p1 else 0.0
    if z > 0:
        pg, pl = p / 2, 1 - p / 2
    elif z < 0:
        pg, pl = 1 - p / 2, p / 2
    else:
        pg = pl = 0.5
    return {"name": name, "x_baseline": x1, "n_baseline": n1,
            "x_candidate": x2, "n_candidate": n2,
            "want": {"p_baseline": p1, "p_candidate": p2, "diff": p2 - p1,
                     "z": z, "p_two_sided": float(p), "p_greater": pg,
                     "p_less": pl}}


def main():
    mw = []
    rng = np.random.default_rng(20240611)
    mw.append(mw_case("equal_normal", rng.normal(100, 15, 200),
                      rng.normal(100, 15, 200)))
    rng = np.random.default_rng(20240612)
    mw.append(mw_case("shift_normal", rng.normal(100, 15, 300),
                      rng.normal(104, 15, 250)))
    rng = np.random.default_rng(20240613)
    mw.append(mw_case("candidate_lower", rng.normal(50, 5, 150),
                      rng.normal(47.5, 5, 180)))
    rng = np.random.default_rng(20240614)
    mw.append(mw_case(
        "heavy_ties",
        rng.choice([1, 2, 3, 4, 5], 500, p=[.3, .3, .2, .1, .1]),
        rng.choice([1, 2, 3, 4, 5], 400, p=[.25, .3, .2, .15, .1]),
        integers=True))
    rng = np.random.default_rng(20240615)
    mw.append(mw_case("small_n", rng.lognormal(3, 0.5, 25),
                      rng.lognormal(3.3, 0.5, 27)))
    rng = np.random.default_rng(20240616)
    mw.append(mw_case("small_ints_exact_in_hdr",
                      np.minimum(lognormal_micros(rng, 400, 0.6, 3000), 2047),
                      np.minimum(lognormal_micros(rng, 420, 0.6, 2500), 2047),
                      integers=True))
    rng = np.random.default_rng(20240617)
    mw.append(mw_case("unequal_n_lognormal_micros",
                      lognormal_micros(rng, 45000, 0.35, 5000),
                      lognormal_micros(rng, 52000, 0.35, 30),
                      integers=True))
    rng = np.random.default_rng(20240618)
    mw.append(mw_case("large_lognormal_micros",
                      lognormal_micros(rng, 45000, 0.35, 20000),
                      lognormal_micros(rng, 45600, 0.35, 20000),
                      integers=True))
    rng = np.random.default_rng(20240619)
    same = lognormal_micros(rng, 30000, 0.5, 1000)
    mw.append(mw_case("identical_samples", same, same.copy(), integers=True))

    props = [
        prop_case("equal_rates", 12, 1000, 12, 1000),
        prop_case("error_rate_rose", 10, 10000, 25, 10000),
        prop_case("error_rate_fell", 40, 2000, 21, 2500),
        prop_case("small_counts", 1, 30, 4, 28),
        prop_case("large_counts", 1203, 1000000, 1391, 1000000),
        prop_case("half", 480, 1000, 530, 1000),
    ]

    json.dump({"generator": "analyze/testdata/stats_reference.py",
               "scipy": scipy.__version__, "numpy": np.__version__,
               "mann_whitney": mw, "proportions": props},
              sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
