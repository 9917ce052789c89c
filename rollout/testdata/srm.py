# Reference values of the sample-ratio-mismatch check (rollout/judge.go,
# srm): Pearson's chi-square goodness of fit of the observed split against
# the configured weights, from SciPy (Debian's python3-scipy).
# Regenerate: /usr/bin/python3 rollout/testdata/srm.py > rollout/testdata/srm.json
import json
from scipy.stats import chisquare

cases = [
    ((5300, 94700), (5, 95)),
    ((5000, 95000), (5, 95)),
    ((2600, 7400), (25, 75)),
    ((2450, 7550), (25, 75)),
    ((480, 520), (50, 50)),
    ((430, 570), (50, 50)),
    ((61, 39), (50, 50)),
]
out = []
for obs, w in cases:
    n = sum(obs)
    r = chisquare(obs, [n * x / 100 for x in w])
    out.append({"observed": obs, "weights_pct": w, "chi_square": float(r.statistic), "p_value": float(r.pvalue)})
print(json.dumps(out, indent=1))
