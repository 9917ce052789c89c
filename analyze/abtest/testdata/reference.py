"""Reference values for package abtest.

Run from the package directory with Debian's Python (scipy 1.10,
statsmodels 0.13):

    /usr/bin/python3 testdata/reference.py > testdata/reference.json

Each case gives the sufficient statistics (users, sums) that the Go test
feeds to the package and the values the established libraries compute
from the raw data.
"""
import json

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (confint_proportions_2indep,
                                          test_proportions_2indep)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW
from statsmodels.stats.weightstats import ttest_ind as sm_ttest_ind

ALPHA = 0.05
rng = np.random.default_rng(20261212)


def sums(y, x=None):
    s = {"users": int(len(y)), "sum": float(np.sum(y)), "sum_sq": float(np.sum(y * y))}
    if x is not None:
        s.update(sum_x=float(np.sum(x)), sum_x_sq=float(np.sum(x * x)), sum_xy=float(np.sum(x * y)))
    return s


def delta_relative(mt, vt, nt, mc, vc, nc):
    """Lift and its delta-method standard error (independent means)."""
    lift = mt / mc - 1
    se = np.sqrt(vt / (nt * mc**2) + mt**2 * vc / (nc * mc**4))
    return float(lift), float(se)


def welch_case(name, c, t, alpha=ALPHA):
    tstat, p = stats.ttest_ind(t, c, equal_var=False)
    _, _, df = sm_ttest_ind(t, c, usevar="unequal")
    lo, hi = CompareMeans(DescrStatsW(t), DescrStatsW(c)).tconfint_diff(alpha=alpha, usevar="unequal")
    lift, se = delta_relative(t.mean(), t.var(ddof=1), len(t), c.mean(), c.var(ddof=1), len(c))
    tq = stats.t.ppf(1 - alpha / 2, df)
    return {
        "name": name, "alpha": alpha, "control": sums(c), "treatment": sums(t),
        "diff": float(t.mean() - c.mean()), "t": float(tstat), "p": float(p), "df": float(df),
        "lower": float(lo), "upper": float(hi),
        "lift": lift, "lift_se": se, "lift_lower": lift - tq * se, "lift_upper": lift + tq * se,
        "lift_p": float(2 * stats.t.sf(abs(lift / se), df)),
    }


def prop_case(name, xc, nc, xt, nt, alpha=ALPHA):
    stat, p = test_proportions_2indep(xt, nt, xc, nc, method="wald", compare="diff", correction=False)
    lo, hi = confint_proportions_2indep(xt, nt, xc, nc, method="wald", compare="diff", alpha=alpha)
    pc, pt = xc / nc, xt / nt
    lift, se = delta_relative(pt, pt * (1 - pt), nt, pc, pc * (1 - pc), nc)
    zq = stats.norm.ppf(1 - alpha / 2)
    return {
        "name": name, "alpha": alpha,
        "control": {"users": nc, "sum": xc, "sum_sq": xc},
        "treatment": {"users": nt, "sum": xt, "sum_sq": xt},
        "diff": pt - pc, "z": float(stat), "p": float(p), "lower": float(lo), "upper": float(hi),
        "lift": lift, "lift_se": se, "lift_lower": lift - zq * se, "lift_upper": lift + zq * se,
        "lift_p": float(2 * stats.norm.sf(abs(lift / se))),
    }


def cuped_case(name, n_c, n_t, effect, alpha=ALPHA):
    xc = rng.gamma(2.0, 5.0, n_c)
    xt = rng.gamma(2.0, 5.0, n_t)
    yc = 3 + 0.8 * xc + rng.normal(0, 4, n_c)
    yt = 3 + effect + 0.8 * xt + rng.normal(0, 4, n_t)
    # theta: the coefficient of x in y ~ x + variant (one intercept per
    # variant), i.e. the pooled within-variant slope, by least squares.
    X = np.column_stack([np.concatenate([xc, xt]),
                         np.concatenate([np.ones(n_c), np.zeros(n_t)]),
                         np.concatenate([np.zeros(n_c), np.ones(n_t)])])
    theta = float(np.linalg.lstsq(X, np.concatenate([yc, yt]), rcond=None)[0][0])
    xbar = np.concatenate([xc, xt]).mean()
    ac, at = yc - theta * (xc - xbar), yt - theta * (xt - xbar)
    tstat, p = stats.ttest_ind(at, ac, equal_var=False)
    _, _, df = sm_ttest_ind(at, ac, usevar="unequal")
    lo, hi = CompareMeans(DescrStatsW(at), DescrStatsW(ac)).tconfint_diff(alpha=alpha, usevar="unequal")
    raw = yt.var(ddof=1) / n_t + yc.var(ddof=1) / n_c
    adj = at.var(ddof=1) / n_t + ac.var(ddof=1) / n_c
    lift, se = delta_relative(at.mean(), at.var(ddof=1), n_t, ac.mean(), ac.var(ddof=1), n_c)
    tq = stats.t.ppf(1 - alpha / 2, df)
    return {
        "name": name, "alpha": alpha, "control": sums(yc, xc), "treatment": sums(yt, xt),
        "theta": theta, "control_mean": float(ac.mean()), "treatment_mean": float(at.mean()),
        "variance_reduction": float(1 - adj / raw),
        "diff": float(at.mean() - ac.mean()), "p": float(p), "df": float(df),
        "lower": float(lo), "upper": float(hi),
        "lift": lift, "lift_lower": lift - tq * se, "lift_upper": lift + tq * se,
        "lift_p": float(2 * stats.t.sf(abs(lift / se), df)),
    }


def sequential_case(name, c, t, tuning, alpha=ALPHA):
    """GrowthBook's documented boundary (Waudby-Smith et al. eq. 9)."""
    n = len(c) + len(t)
    rho = np.sqrt((-2 * np.log(alpha) + np.log(-2 * np.log(alpha) + 1)) / tuning)
    def half(se):
        s2 = se**2 * n
        return float(np.sqrt(s2) * np.sqrt(2 * (n * rho**2 + 1) * np.log(np.sqrt(n * rho**2 + 1) / alpha) / (n * rho) ** 2))
    d = t.mean() - c.mean()
    se = np.sqrt(t.var(ddof=1) / len(t) + c.var(ddof=1) / len(c))
    lift, lse = delta_relative(t.mean(), t.var(ddof=1), len(t), c.mean(), c.var(ddof=1), len(c))
    return {
        "name": name, "alpha": alpha, "tuning": tuning, "control": sums(c), "treatment": sums(t),
        "diff": float(d), "lower": float(d - half(se)), "upper": float(d + half(se)),
        "lift": lift, "lift_lower": lift - half(lse), "lift_upper": lift + half(lse),
    }


welch = [
    welch_case("normal small", rng.normal(10, 3, 50), rng.normal(11, 4, 60)),
    welch_case("revenue with zeros", rng.lognormal(1, 1, 2000) * (rng.random(2000) < 0.3),
               rng.lognormal(1.05, 1, 2100) * (rng.random(2100) < 0.3)),
    welch_case("tiny", np.array([1.0, 2.5, 4.0]), np.array([2.0, 3.5, 7.0, 8.5])),
    welch_case("alpha 0.01", rng.normal(5, 1, 300), rng.normal(5.2, 2, 250), alpha=0.01),
]
props = [
    prop_case("5 % vs 5.5 %", 500, 10000, 560, 10200),
    prop_case("small", 14, 28, 16, 30),
    prop_case("alpha 0.1", 1200, 40000, 1150, 39000, alpha=0.1),
]
cuped = [cuped_case("cuped 2000/2100", 2000, 2100, 0.4), cuped_case("cuped small", 40, 35, 1.0)]
sequential = [
    sequential_case("sequential 3000/3100", rng.normal(10, 3, 3000), rng.normal(10.3, 3, 3100), 5000),
    sequential_case("sequential tuning 1000", rng.normal(10, 3, 400), rng.normal(10.5, 3, 380), 1000),
]

srm = []
for name, obs, w in [
    ("52/48 of 20000", [10400, 9600], [50, 50]),
    ("50/50 fine", [10030, 9970], [50, 50]),
    ("three variants", [3300, 3350, 3500], [1, 1, 1]),
    ("90/10", [8950, 1050], [9000, 1000]),
]:
    exp = np.array(w, float) / sum(w) * sum(obs)
    chi2, p = stats.chisquare(obs, exp)
    srm.append({"name": name, "observed": obs, "weights": w, "chi2": float(chi2), "p": float(p)})

multi = []
for ps in [[0.01, 0.04, 0.03, 0.005, 0.2, 0.04], [0.5, 0.001, 0.049, 0.0125], [0.03]]:
    multi.append({"p": ps,
                  "holm": multipletests(ps, method="holm")[1].tolist(),
                  "bh": multipletests(ps, method="fdr_bh")[1].tolist()})

plans = []
for name, kind, base, sd, mde, alpha, power, share in [
    ("5 % +3 %", "binomial", 0.05, None, 0.03, 0.05, 0.8, 0.5),
    ("10 % -5 % 30/70", "binomial", 0.10, None, -0.05, 0.05, 0.8, 0.7),
    ("continuous 10±25 +2 %", "continuous", 10.0, 25.0, 0.02, 0.01, 0.9, 0.2),
]:
    if kind == "binomial":
        p1, p2 = base, base * (1 + mde)
        vc, vt = p1 * (1 - p1), p2 * (1 - p2)
        delta = p2 - p1
    else:
        vc = vt = sd**2
        delta = base * mde
    r = share / (1 - share)  # nobs2 / nobs1, nobs1 the control
    sigma = np.sqrt((vc + vt / r) / (1 + 1 / r))
    n1 = NormalIndPower().solve_power(effect_size=abs(delta) / sigma, alpha=alpha, power=power,
                                      ratio=r, alternative="two-sided")
    plans.append({"name": name, "kind": kind, "baseline": base, "sd": sd, "mde": mde,
                  "alpha": alpha, "power": power, "treatment_share": share,
                  "control_users": float(n1), "treatment_users": float(n1 * r)})

print(json.dumps({"welch": welch, "proportions": props, "cuped": cuped, "sequential": sequential,
                  "srm": srm, "multiple": multi, "plans": plans}, indent=1))
