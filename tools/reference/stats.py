"""Generate the statistics fixtures that validate `crates/report` against scipy and numpy.

Why this exists: the session report (`crates/report`) computes a Wilcoxon signed-rank test, a
matched-pairs rank-biserial correlation, a percentile-bootstrap confidence interval of the median
and numpy's default ("linear") quantiles in Rust. Researchers cite these figures, so they must be
the figures scipy gives. This script draws paired samples (with ties, zero differences, n = 3 to
60, several seeds) and writes what the pinned scipy/numpy compute for them:

* `crates/report/tests/data/stats/wilcoxon.json`: `scipy.stats.wilcoxon(x, y)` with its defaults
  (two-sided, zero_method="wilcox", correction=False, method="auto"), the method that "auto"
  chose, and the rank-biserial correlation computed by its formula;
* `crates/report/tests/data/stats/bootstrap.json`: `scipy.stats.bootstrap((d,), np.median,
  method="percentile")` together with the resample indices scipy drew, so Rust, given the same
  resamples, must give the same interval (the random draws themselves are not compared);
* `crates/report/tests/data/stats/quantiles.json`: `np.percentile` (method "linear").

All randomness is seeded; running the script twice with the pinned requirements gives
byte-identical files. Usage: see tools/reference/README.md.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import scipy
import scipy.stats

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = REPO_ROOT / "crates" / "report" / "tests" / "data" / "stats"

# Sizes around every switch of scipy 1.16's method="auto": 13 (permutation test with ties or
# zeros at or below), 50 (exact distribution without ties or zeros at or below).
SIZES = [3, 4, 5, 6, 7, 8, 10, 12, 13, 14, 15, 20, 25, 26, 30, 40, 49, 50, 51, 55, 60]
SEEDS = [1, 2, 3]
KINDS = ["continuous", "ties", "zeros", "ties_and_zeros"]

BOOTSTRAP_SIZES = [3, 5, 8, 13, 20, 31, 60]
BOOTSTRAP_RESAMPLES = 300
CONFIDENCE = 0.95


def paired_sample(n: int, seed: int, kind: str) -> tuple[list[float], list[float]]:
    """Baseline and end values shaped like per-participant mean coherence (0-100 points)."""
    rng = np.random.default_rng([n, seed, KINDS.index(kind)])
    baseline = rng.uniform(20.0, 60.0, n)
    end = baseline + rng.normal(4.0, 8.0, n)
    if kind in ("ties", "ties_and_zeros"):
        # Whole points make equal absolute differences (ties) likely.
        baseline = np.round(baseline)
        end = np.round(end)
        # Force at least one tie among the non-zero differences.
        if n >= 3:
            end[1] = baseline[1] + (end[0] - baseline[0]) * (1 if rng.random() < 0.5 else -1)
            if end[0] == baseline[0]:
                end[0] = baseline[0] + 3.0
                end[1] = baseline[1] - 3.0
    else:
        baseline = np.round(baseline, 3)
        end = np.round(end, 3)
    if kind in ("zeros", "ties_and_zeros"):
        zeros = max(1, n // 6)
        for index in rng.choice(n, zeros, replace=False):
            end[index] = baseline[index]
    return [float(v) for v in end], [float(v) for v in baseline]


def auto_method(d: np.ndarray) -> str:
    """What scipy 1.16's wilcoxon(method="auto") does for these differences (see _wilcoxon.py)."""
    nonzero = np.abs(d[d != 0])
    has_ties = len(np.unique(nonzero)) < len(nonzero)
    has_zeros = bool(np.any(d == 0))
    if len(d) > 50:
        return "asymptotic"
    if not (has_ties or has_zeros):
        return "exact"
    if len(d) <= 13:
        return "permutation"
    return "asymptotic"


def rank_biserial(d: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation (Kerby's simple difference), zeros dropped."""
    nonzero = d[d != 0]
    ranks = scipy.stats.rankdata(np.abs(nonzero))
    plus = ranks[nonzero > 0].sum()
    minus = ranks[nonzero < 0].sum()
    return float((plus - minus) / (plus + minus))


def wilcoxon_cases() -> list[dict]:
    cases = []
    for n in SIZES:
        for seed in SEEDS:
            for kind in KINDS:
                x, y = paired_sample(n, seed, kind)
                d = np.asarray(x) - np.asarray(y)
                if not np.any(d != 0):
                    continue
                result = scipy.stats.wilcoxon(x, y)
                method = auto_method(d)
                # The method "auto" chose must give the same p when asked for explicitly.
                if method in ("exact", "asymptotic"):
                    explicit = scipy.stats.wilcoxon(x, y, method=method)
                    assert explicit.pvalue == result.pvalue, (n, seed, kind, method)
                nonzero = np.abs(d[d != 0])
                cases.append(
                    {
                        "name": f"n{n}_seed{seed}_{kind}",
                        "x": x,
                        "y": y,
                        "pairs": n,
                        "zero_differences": int(np.sum(d == 0)),
                        "has_ties": bool(len(np.unique(nonzero)) < len(nonzero)),
                        "scipy_method": method,
                        "statistic": float(result.statistic),
                        "p_value": float(result.pvalue),
                        "rank_biserial": rank_biserial(d),
                    }
                )
    return cases


def bootstrap_cases() -> list[dict]:
    cases = []
    for n in BOOTSTRAP_SIZES:
        for seed in SEEDS[:2]:
            x, y = paired_sample(n, seed, "ties_and_zeros" if seed == 2 else "continuous")
            d = np.asarray(x) - np.asarray(y)
            # The indices scipy draws: `rng.integers(0, n, (n_resamples, n))` in one batch.
            indices = np.random.default_rng(seed).integers(0, n, (BOOTSTRAP_RESAMPLES, n))
            medians = np.median(d[indices], axis=-1)
            alpha = (1 - CONFIDENCE) / 2
            low = np.percentile(medians, alpha * 100)
            high = np.percentile(medians, (1 - alpha) * 100)
            result = scipy.stats.bootstrap(
                (d,),
                np.median,
                n_resamples=BOOTSTRAP_RESAMPLES,
                confidence_level=CONFIDENCE,
                method="percentile",
                rng=np.random.default_rng(seed),
            )
            # The committed indices are exactly scipy's resamples: same interval, bit for bit.
            assert result.confidence_interval.low == low, (n, seed)
            assert result.confidence_interval.high == high, (n, seed)
            cases.append(
                {
                    "name": f"n{n}_seed{seed}",
                    "values": [float(v) for v in d],
                    "confidence_level": CONFIDENCE,
                    "resample_indices": indices.tolist(),
                    "median": float(np.median(d)),
                    "low": float(low),
                    "high": float(high),
                }
            )
    return cases


def quantile_cases() -> list[dict]:
    rng = np.random.default_rng(7)
    cases = []
    for n in [1, 2, 3, 4, 5, 7, 10, 33, 200]:
        values = np.round(rng.normal(50.0, 15.0, n), 2)
        if n >= 4:
            values[1] = values[2]  # a tie
        qs = [0.0, 2.5000000000000022, 5.0, 25.0, 50.0, 75.0, 95.0, 97.5, 100.0, 33.3]
        cases.append(
            {
                "values": [float(v) for v in values],
                "percentiles": qs,
                "expected": [float(np.percentile(values, q)) for q in qs],
                "median": float(np.median(values)),
            }
        )
    return cases


def write(name: str, payload: dict, compact: bool = False) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / name
    # The bootstrap file holds tens of thousands of resample indices: compact keeps it small.
    text = json.dumps(payload, separators=(",", ":")) if compact else json.dumps(payload, indent=1)
    path.write_text(text + "\n")
    print(f"wrote {path.relative_to(REPO_ROOT)}")


def main() -> None:
    versions = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__}
    write(
        "wilcoxon.json",
        {
            "tool_versions": versions,
            "definition": "scipy.stats.wilcoxon(x, y) defaults: two-sided, zero_method='wilcox' "
            "(zero differences dropped), correction=False, method='auto' (exact distribution for "
            "n <= 50 without ties or zeros; exact permutation test for n <= 13 with ties or "
            "zeros; normal approximation with tie correction otherwise). statistic = "
            "min(R+, R-). rank_biserial = (R+ - R-) / (R+ + R-) over the non-zero differences "
            "x - y.",
            "cases": wilcoxon_cases(),
        },
    )
    write(
        "bootstrap.json",
        {
            "tool_versions": versions,
            "definition": "scipy.stats.bootstrap((d,), np.median, method='percentile', "
            f"n_resamples={BOOTSTRAP_RESAMPLES}, rng=np.random.default_rng(seed)); "
            "resample_indices[b] are the indices of resample b, as scipy drew them.",
            "cases": bootstrap_cases(),
        },
        compact=True,
    )
    write(
        "quantiles.json",
        {
            "tool_versions": versions,
            "definition": "np.percentile(values, q) with the default method 'linear'; np.median",
            "cases": quantile_cases(),
        },
    )


if __name__ == "__main__":
    main()
