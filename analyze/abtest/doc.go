// Package abtest is the statistics of A/B experiments on user outcomes:
// fixed-horizon and sequential tests of a metric between two variants,
// CUPED variance reduction, the sample-ratio-mismatch check, multiplicity
// correction over several metrics, goal and guardrail decisions, segments,
// novelty and a sample-size planner.
//
// # Input: sufficient statistics over users
//
// The unit of randomisation is the user, and every test works on a
// [Summary] per variant and metric: the number of users, the sum and the
// sum of squares of each user's metric value (conversion: 0 or 1; revenue
// or rating: the user's total or mean, as the caller decides), and for
// CUPED the sums of a pre-period covariate X (ΣX, ΣX², ΣXY). A user who
// was exposed but has no outcome counts with the value 0: the Summary's
// Users is everyone exposed. Outcomes are aggregated first, so that a
// report over 10 M outcomes calls this package in microseconds.
//
// # Fixed-horizon tests
//
// Continuous metrics use Welch's t-test: with means m, sample variances
// s² (divisor n−1) and users n,
//
//	d = m_t − m_c,  se² = s_t²/n_t + s_c²/n_c,
//	df = se⁴ / ((s_t²/n_t)²/(n_t−1) + (s_c²/n_c)²/(n_c−1))   (Welch–Satterthwaite)
//
// and the interval d ± t(1−α/2, df)·se, p = 2·P(T_df > |d/se|), as
// scipy.stats.ttest_ind(equal_var=False) (above 10⁷ degrees of freedom the
// normal, which differs by less than 3·10⁻⁷ there). Binomial metrics (0/1 per user)
// use the unpooled (Wald) z-test: s² = p(1−p) with divisor n, the normal
// distribution instead of t; the interval and the p-value then always
// agree, as statsmodels' test_proportions_2indep(method="wald").
//
// The relative lift m_t/m_c − 1 has the delta-method variance of a ratio
// of independent means, as GrowthBook's frequentist engine computes it:
//
//	se_rel² = s_t²/(n_t·m_c²) + m_t²·s_c²/(n_c·m_c⁴)
//
// with the same df (continuous) or the normal (binomial). The lift is
// undefined (Result.Relative nil) when the control mean is 0.
//
// # Sequential tests
//
// With [Config].Sequential the interval is an always-valid confidence
// sequence: the probability that it ever excludes the true effect, at any
// of any number of looks, is at most α (asymptotically). It is the
// two-sided normal-mixture boundary of Robbins (1970), in the form of
// Howard, Ramdas, McAuliffe and Sekhon (2021, "Time-uniform, nonparametric,
// nonasymptotic confidence sequences", Ann. Statist. 49(2)) made asymptotic
// by Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas ("Time-uniform central
// limit theory and asymptotic confidence sequences", arXiv:2103.06476,
// eq. 9), which is what GrowthBook's engine uses. With n = n_t + n_c users
// in all and the tuning parameter N (GrowthBook's sequentialTuningParameter,
// [DefaultTuning] = 5000: the number of users at which the sequence is
// narrowest),
//
//	ρ² = (−2·ln α + ln(1 − 2·ln α)) / N
//	halfwidth = se · sqrt( 2·(nρ²+1)/(nρ²) · ln( sqrt(nρ²+1) / α ) )
//
// (the paper's per-observation variance σ² is se²·n). The always-valid
// p-value is the reciprocal of the mixture martingale,
//
//	p = min(1, sqrt(1+nρ²) · exp(−z²/2 · nρ²/(1+nρ²))),  z = estimate/se,
//
// so that p < α exactly when the sequence excludes 0. No t distribution:
// the boundary is asymptotic in n.
//
// # CUPED
//
// With [Config].CUPED and a covariate that varies, θ is the pooled
// within-variant slope of Y on X over both variants,
//
//	θ = Σ_v Σ_i (x−x̄_v)(y−ȳ_v) / Σ_v Σ_i (x−x̄_v)²,
//
// each variant's mean becomes ȳ_v − θ·(x̄_v − x̄) (x̄ over both variants,
// so the difference of adjusted means is ȳ_t − ȳ_c − θ(x̄_t − x̄_c)) and
// its per-user variance var(Y) + θ²·var(X) − 2θ·cov(X,Y), the variance of
// Y − θX within the variant. The tests above then run on the adjusted
// means and variances; [CUPEDResult].VarianceReduction is 1 − se²_adj/se²
// of the difference. The uncertainty of θ itself is ignored (it is of
// order 1/n).
//
// # Sample ratio mismatch
//
// [SRM] is Pearson's chi-square of the users per variant against the
// configured weights, k−1 degrees of freedom; p < [DefaultSRMAlpha]
// (0.001) marks the experiment invalid whatever its metrics say. It is
// the rule of the rollout judge (rollout/judge.go): variants of weight 0
// are no cell but their users count in the total, and no test is made
// (nil) while a cell expects fewer than 5 users.
//
// # Several metrics and the decision
//
// [Analyze] compares every treatment with the control (the first variant)
// on every metric. Goal metrics' p-values are adjusted over the family of
// goal metrics × treatments, by Holm–Bonferroni ([Holm], the default) or
// Benjamini–Hochberg ([BH]); a goal is better or worse when its adjusted
// p is below α (intervals stay unadjusted; a goal with too little data
// counts in the family with p = 1). A guardrail is judged by
// non-inferiority, one-sided at α, on the relative lift with its margin
// m: it holds when the lower one-sided bound of the lift (in the good
// direction) is above −m, and it fails when the upper bound is below −m.
// Requiring every guardrail to hold is an intersection–union test and
// needs no correction. The decision per treatment ([Decide]):
//
//   - Invalid: the sample ratio mismatches.
//   - Worse: a goal is significantly worse, or a guardrail fails.
//   - Ship ("better or equal"): every guardrail holds, and a goal is
//     significantly better or every goal is non-inferior within its
//     margin.
//   - NotYetDecided: anything else (too little data included).
//
// For a sequential test the one-sided bounds are those of the sequence at
// level 1−2α, valid one-sided by the symmetry of the normal mixture.
//
// # Segments and novelty
//
// [CompareSegments] runs the same test per segment and adjusts the p-values
// over the segments, saying how many were compared and how ([SegmentReport].Caveat).
//
// [Novelty] takes per-cohort data (cohort = the time bucket of the users'
// first exposure) and flags decay when either
//   - (a) some later cohort's lift is below the first cohort's: one-sided
//     z = (L_1 − L_k)/sqrt(se_1² + se_k²) at α/(2(K−1)) each (Bonferroni
//     over the K−1 comparisons), or
//   - (b) with 3 or more cohorts, the weighted least-squares slope of the
//     lift over the cohort index (weights 1/se²) is negative, one-sided at
//     α/2.
//
// The false-flag rate without decay is at most α. A literally monotone
// decrease is not used: K random cohorts decrease monotonically with
// probability 1/K!, which is noise for K ≤ 4.
//
// # Planner
//
// [PlanSample] finds the users per variant at which the two-sided test at α
// has the power asked for, using the normal approximation with the
// variances under the alternative (Wald), both tails counted:
//
//	power = Φ(δ/se − z_{1−α/2}) + Φ(−δ/se − z_{1−α/2}),
//	se² = v_c/n_c + v_t/n_t,
//
// (binomial: v = p(1−p) at the baseline and the treatment rate; continuous:
// v = sd² in both). It equals statsmodels' NormalIndPower.solve_power with
// the effect size δ/σ, σ² = (v_c + v_t/r)/(1 + 1/r), r = n_t/n_c. For a
// sequential test it also reports the larger sample at which the
// confidence sequence at the last look alone has the power asked for
// (halfwidth in place of z·se); since earlier looks may stop the test too,
// the chance of a detection by then is at least that.
//
// # Too little data
//
// Every test above is a normal (or t) approximation, and the lift's delta
// method is the first to fail with few outcomes: it is liberal when the
// control's count is small by chance. A metric is therefore tested only
// when each variant holds [Config].MinSample ([DefaultMinSample], 30)
// users with and users without the outcome (binomial), or users
// (continuous); below it the result says so in Insufficient and decides
// nothing. In 2000 simulated A/A experiments like those of the tests
// (5 % conversion, 300 users a minute, a look every minute for an hour),
// the sequential lift was ever significant in 5.4 % of them with no
// minimum and in 3.4 % with 30 (the difference of means: 1.8 % and 1.6 %).
//
// # Bad input
//
// Negative counts, NaN or infinite sums, sums of squares that no set of
// values can have, a binomial sum outside [0, users], an experiment with
// one variant, and impossible planner arguments are errors wrapping
// input.ErrInput (the CLI exits 2), naming the field or flag. Too little
// data (below MinSample, no variation) is not an error.
package abtest
