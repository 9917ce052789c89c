// Package behaviour watches a model's own behaviour on the traffic a
// rollout routes: how confident it is, what it predicts, how long its
// outputs are and how often they are empty or broken, per backend, and
// whether the canary's behaviour has drifted from the stable version's.
//
// It is the part of issue 12 (model-behaviour gates) that needs no proxy:
// the rollout proxy hands sampled response bodies to Extract, feeds the
// Features to a Tracker under the backend's name, rotates the Tracker once
// per interval, and evaluates Gates on the stable and canary windows.
//
// # Features of one response
//
// Extract reads one relayed response body:
//
//   - KServe v2 REST (ProtocolKServe): the first output tensor is taken as
//     class scores, one row per prediction (shape [B, C], [C], or more
//     dimensions with the classes last). The tensor is probabilities when
//     every value lies in [0, 1] and every row sums to 1 ± 1e-3; otherwise
//     it is logits and each row is softmaxed. A row's confidence is its
//     top-class probability and its class is the top-class index (lowest
//     index on ties). A single column ([B, 1]) is a binary score p of class
//     1 (a logit, through the logistic function, when outside [0, 1]):
//     confidence max(p, 1−p), class p ≥ 0.5. A first output that is not
//     numeric (BYTES, BOOL) gives no confidence.
//   - OpenAI-compatible completions and chat completions (ProtocolOpenAI),
//     one JSON object or an SSE stream ("data: {...}" events ending with
//     "data: [DONE]"); only choice index 0 is read. The output length is
//     usage.completion_tokens when the server reports it, else the text's
//     length in characters (runes). When token log-probabilities are
//     present (completions: logprobs.token_logprobs; chat:
//     logprobs.content[].logprob) the confidence is exp of their mean
//     (null entries skipped): the geometric-mean token probability.
//
// An output is empty when it holds no prediction: no output tensor or
// no data (KServe); no choice, or text that is only white space and no
// tool call (OpenAI). A response is an error when its body does not
// parse, carries an "error" object, or is an SSE stream cut before
// [DONE]. Extract never fails and never panics: errors are data.
//
// # Counting and windows
//
// Counts holds fixed bins: responses, errors, empty outputs, a histogram
// of confidence (ConfidenceBins equal bins on [0, 1]), of output length
// (quarter-octave bins) and of top classes (MaxClasses classes and one
// "other" bin). Counts merge by addition. A Tracker keeps, per backend, a
// ring of per-interval Counts: the caller calls Rotate once per interval
// (say each second) and Window(backend, n) merges the n most recent
// closed intervals, that is the last n intervals' worth of traffic.
//
// # Divergence and gates
//
// PSI (population stability index, with empty bins clamped to
// PSIEpsilon) and JS (Jensen–Shannon divergence, base 2, in [0, 1])
// compare two histograms. Both are biased upwards on finite samples: with
// k populated bins and n₁, n₂ samples, two draws of the same distribution
// give PSI ≈ (k−1)(1/n₁ + 1/n₂) and JS ≈ that / (8 ln 2) on average, so
// a gate needs enough samples (Gates.MinSamples, DefaultMinSamples)
// before it may pass; below it a gate holds, it never passes.
package behaviour
