"""Lesson 03's exercises (a CRF's learning rate), ``q1`` ... ``q5``: compute, implement, predict.

Expected values come from ``lessons.crf`` (its word scorer, its tested ``CRF`` layer run on the
student's inputs, one measured step with ``lr_multiplier=k``, the stored sweep), none by hand."""

import functools

import numpy as np

from lessons import crf
from lessons.exercises.core import Exercise
from lessons.exercises.kinds import FunctionExercise, as_values, compare, gap, show

__all__ = ["GOLD", "PRED", "SENTENCE", "crf_log_partition", "crf_viterbi", "q1", "q2", "q3", "q4",
           "q5"]

SENTENCE = "台湾是中国领土不可分割的一部分。"  # the lesson's sample piece, first 16 characters
GOLD = "besbebebmmessbes"  # 台湾 / 是 / 中国 / 领土 / 不可分割 / 的 / 一 / 部分 / 。
PRED = "besbebebebessbes"  # the tagger splits 不可分割 into 不可 / 分割
_rng = np.random.default_rng(3)  # exercises 2 and 3's random cases


class SpansAndF1(Exercise):
    """(the predicted words' spans, word F1), against ``crf.word_spans`` / ``crf.word_scores``."""

    spans, f1 = crf.word_spans(PRED), crf.word_scores([GOLD], [PRED])["f1"]

    def _verdict(self, answer):
        pair = as_values(answer, 2)
        if pair is None:
            return f"expected a pair (spans, f1) as a tuple, list or array, got {show(answer)}"
        got = [tuple(int(i) for i in span) for span in pair[0]]
        for i, want in enumerate(self.spans):
            if i >= len(got):
                return (f"spans: you gave {len(got)} spans; the prediction cuts more words "
                        f"(a word ends at every s or e tag)")
            if got[i] != want:
                return (f"spans: word {i + 1} of the prediction is not {got[i]}: a word ends "
                        f"after every s or e tag, and a span (start, end) ends exclusive")
        if len(got) != len(self.spans):
            return (f"spans: you gave {len(got)} spans; the prediction cuts fewer words (a word "
                    f"ends at every s or e tag)")
        problem = compare(self.f1, pair[1], 1e-6, 0.0)
        return problem and (f"word F1: {problem}; F1 counts words (spans both taggings share), "
                            f"not characters")


q1 = SpansAndF1(
    "Exercise 1",
    hints=("A word ends after character i when tag i is s or e; spans end exclusive: 台湾 is "
           "(0, 2).", "F1 = 2 P R / (P + R), P = correct / predicted, R = correct / gold words."),
    solution="""gold, pred = GOLD, PRED
ends = [i + 1 for i, tag in enumerate(pred) if tag in "se"]  # a word ends at s or e
spans = list(zip([0] + ends[:-1], ends, strict=True))
gold_ends = [i + 1 for i, tag in enumerate(gold) if tag in "se"]
gold_spans = list(zip([0] + gold_ends[:-1], gold_ends, strict=True))
correct = len(set(spans) & set(gold_spans))  # all but 不可 and 分割
precision, recall = correct / len(spans), correct / len(gold_spans)
answer = (spans, 2 * precision * recall / (precision + recall))""")


def _layer(transitions, start, end):
    """The lesson's ``crf.CRF`` with these effective weights (multiplier 1)."""
    layer = crf.CRF(len(start))
    layer.build()
    layer.set_weights([np.asarray(w, np.float32) for w in (transitions, start, end)])
    return layer


def crf_log_partition(emissions, transitions, start, end):
    """log Z of one sentence by the lesson's tested layer (float32): exercise 2's reference."""
    layer = _layer(transitions, start, end)  # the recursion section 1 shows, on a batch of one
    return float(np.asarray(layer._log_partition(*layer._prepare(emissions[None], None)))[0])


def crf_viterbi(emissions, transitions, start, end):
    """The best path [T] of one sentence by the lesson's tested layer: exercise 3's reference."""
    return np.asarray(_layer(transitions, start, end).decode(emissions[None]))[0]


def _case(length, emission_scale=1.0, transition_scale=1.0, dtype=np.float64):
    """Random (emissions [length, 4], transitions [4, 4], start [4], end [4])."""
    emissions = emission_scale * _rng.normal(size=(length, 4))
    weights = [transition_scale * _rng.uniform(-1, 1, size) for size in ((4, 4), (4,), (4,))]
    return tuple(a.astype(dtype) for a in (emissions, *weights))


q2 = FunctionExercise("Exercise 2", crf_log_partition, [
    ("random emissions N(0, 1) [6, 4], T, S, F uniform in (-1, 1)", _case(6)),
    ("one character, emissions [1, 4]", _case(1)),
    ("scores of 1e3: emissions 1e3 N(0, 1) [8, 4] (exp overflows even float64)", _case(8, 1e3)),
    ("transitions larger than emissions: T, S, F in (-3, 3) [10, 4]", _case(10, 0.3, 3.0)),
    ("float32 inputs [5, 4]", _case(5, dtype=np.float32)),
    ("a piece of 32 characters [32, 4], the lesson's max_len", _case(32)),
    ], rtol=1e-5, atol=1e-4,
    hints=("alpha_t(j) = logsumexp_i(alpha_{t-1}(i) + T(i, j)) + E_t(j): sum over the rows i.",
           "Never exp a raw score: np.logaddexp.reduce(x, axis=0) or scipy.special.logsumexp."),
    solution="""def log_partition(emissions, transitions, start, end):
    \"\"\"log Z by the forward algorithm; emissions [T, K], transitions [K, K] (from, to).\"\"\"
    logsumexp = np.logaddexp.reduce  # log(exp(a) + exp(b) + ...), never exp of a raw score
    e, trans = np.asarray(emissions, np.float64), np.asarray(transitions, np.float64)
    alpha = start + e[0]  # alpha_1 [K]
    for t in range(1, len(e)):
        alpha = logsumexp(alpha[:, None] + trans, axis=0) + e[t]  # over i, the "from" tag
    return float(logsumexp(alpha + end))


answer = log_partition""")

q3 = FunctionExercise("Exercise 3", crf_viterbi, [
    ("random emissions N(0, 1) [6, 4], T, S, F uniform in (-1, 1)", _case(6)),
    ("one character, emissions [1, 4]", _case(1)),
    ("transitions dominate: emissions 0.3 N(0, 1), T, S, F in (-3, 3) [8, 4]", _case(8, 0.3, 3.0)),
    ("scores of 1e3: emissions 1e3 N(0, 1) [8, 4]", _case(8, 1e3)),
    ("float32 inputs [10, 4]", _case(10, 0.5, 2.0, dtype=np.float32)),
    ], rtol=0.0, atol=0.0,
    hints=("Keep psi_t(j) = argmax_i(delta_{t-1}(i) + T(i, j)) for every t: the best 'from' tag.",
           "y_n = argmax_j(delta_n(j) + F(j)), then walk back y_{t-1} = psi_t(y_t)."),
    solution="""def viterbi(emissions, transitions, start, end):
    \"\"\"The highest-scoring tag path [T] (ints); emissions [T, K], transitions [K, K].\"\"\"
    e, trans = np.asarray(emissions, np.float64), np.asarray(transitions, np.float64)
    delta, back = start + e[0], []  # delta_1 [K]
    for t in range(1, len(e)):
        scores = delta[:, None] + trans  # [i, j]
        back.append(scores.argmax(axis=0))  # psi_t(j): the best "from" tag i
        delta = scores.max(axis=0) + e[t]
    path = [int(np.argmax(delta + end))]  # y_n
    for psi in reversed(back):
        path.append(int(psi[path[-1]]))  # y_{t-1} = psi_t(y_t)
    return np.array(path[::-1])


answer = viterbi""")


class StepRatios(Exercise):
    """(Adam's, SGD's) ratio of one step with ``lr_multiplier=k = 30`` to one with 1, against the
    measured one (``crf.multiplier_step_ratio``, median, seed 0) within the lesson's 1%."""

    k = 30.0

    @functools.cached_property
    def measured(self) -> dict[str, float]:  # two optimizer steps each, when first needed
        return {name: float(np.median(crf.multiplier_step_ratio(self.k, name.lower(), seed=0)))
                for name in ("Adam", "SGD")}

    def _verdict(self, answer):
        pair = as_values(answer, 2)
        if pair is None:
            return (f"expected a pair (adam_ratio, sgd_ratio) as a tuple, list or array, got "
                    f"{show(answer)}")
        for (name, want), got in zip(self.measured.items(), pair, strict=True):
            if abs(got / want - 1) > 0.01:
                return (f"{name}, k = {self.k:g}: {gap(want, float(got), 0.01, 0.0)} against "
                        f"the measured step; count the factors of k: in the gradient of the "
                        f"stored variable, in what {name} does with it, and in W = k times the "
                        f"stored variable")
        return None


q4 = StepRatios(
    "Exercise 4",
    hints=("The stored variable's gradient is k dL/dW, and W moves k times the stored step.",
           "Adam's stored step m / sqrt(v) ignores a constant factor on every gradient."),
    solution="""k = 30
adam_ratio = k  # stored step unchanged (m and sqrt(v) both scale by k); W = k * stored
sgd_ratio = k**2  # stored step k times larger, and W = k * stored
answer = (adam_ratio, sgd_ratio)""")


class SweepPrediction(Exercise):
    """CRF-1's lead over softmax on best F1 (body lr 1e-3) at depth 0 and 2, predicted: passes when
    above 0 and within a factor of 2 of the stored sweep's gap or within ``slack`` F1 of it."""

    slack = 0.03

    def gaps(self, sweep=None) -> list[dict]:
        """Per depth (0, 2): CRF-1's and softmax's best F1 and the gap (``crf.post_table``)."""
        rows = [crf.post_table(sweep or crf.load_sweep(), d) for d in (0, 2)]
        best = [{r["name"]: r["ours_best"] for r in table} for table in rows]
        return [{"depth": d, "crf": b["CRF-1"], "softmax": b["Softmax"],
                 "gap": b["CRF-1"] - b["Softmax"]} for d, b in zip((0, 2), best, strict=True)]

    def run(self, sweep=None) -> str:
        """The stored gaps as text (machine-independent digits)."""
        return "\n".join(f"depth {r['depth']}: CRF-1 best F1 {r['crf']:.3f}, softmax "
                         f"{r['softmax']:.3f}, gap {r['gap']:+.3f}" for r in self.gaps(sweep))

    def _verdict(self, answer):
        pair = as_values(answer, 2)
        if pair is None:
            return (f"expected a pair (gap at depth 0, gap at depth 2) as a tuple, list or "
                    f"array, got {show(answer)}")
        for row, got in zip(self.gaps(), pair, strict=True):
            gap = row["gap"]
            if not (got > 0 and (gap / 2 <= got <= 2 * gap or abs(got - gap) <= self.slack)):
                side = ("softmax would win" if got < 0 else "no difference" if got == 0
                        else "too large" if got > gap else "too small")
                crf_1, softmax = row["crf"], row["softmax"]
                return (f"depth {row['depth']}: you predicted {show(got)} ({side}); the stored "
                        f"sweep's gap is {gap:.3f} (CRF-1 {crf_1:.3f}, softmax {softmax:.3f}); "
                        f"a prediction passes within a factor of 2 or {self.slack:g} F1 of it")
        return None


q5 = SweepPrediction(
    "Exercise 5",
    hints=("Depth 0: can a character alone know where it sits in a word? The transitions can.",
           "Two width-3 convolutions see 5 characters: the lead shrinks a lot, but stays."),
    solution="""prediction = (0.2, 0.02)  # depth 0, depth 2: large without context, small with""")
