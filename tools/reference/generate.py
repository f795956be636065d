"""Generate the reference recordings and fixtures that validate `crates/hrv`.

Why this exists: the Rust crate implements the coherence and HRV definitions of
`shared/design/coherence.md` (algorithm `synchub-coherence/1`). This script reproduces §2 (per-window
coherence) and §3 (time and frequency domain) independently with numpy/scipy, and runs NeuroKit2 on
the same intervals, so the Rust integration test `crates/hrv/tests/reference.rs` can check:

* Rust against our own definition, re-implemented here: equal to rounding;
* Rust against NeuroKit2 (a widely used open implementation): time domain equal, frequency domain
  loosely (NeuroKit2's Welch differs on purpose; the measured differences are written down).

Outputs (paths relative to the repository root):

* `crates/hrv/tests/data/recordings/NAME.txt`  one RR interval per line, milliseconds, 3 decimals;
* `crates/hrv/tests/data/reference/NAME.json`  the reference values for that recording.

Everything is computed from the intervals as parsed back from the written text, so Python and Rust
start from bit-identical inputs. All randomness is seeded: running the script twice with the pinned
requirements gives identical files.

Usage: see tools/reference/README.md.
"""

from __future__ import annotations

import json
import math
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
import scipy.interpolate
import scipy.signal

import neurokit2 as nk

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "crates" / "hrv" / "tests" / "data"
RECORDINGS_DIR = DATA_DIR / "recordings"
REFERENCE_DIR = DATA_DIR / "reference"

ALGORITHM = "synchub-coherence/1"

# coherence.md §2
COHERENCE_FS_HZ = 4.0
COHERENCE_SAMPLES = 256
COHERENCE_FFT_POINTS = 2048
WINDOW_SECS = 64.0
STEP_SECS = 5.0
PEAK_BAND_HZ = (0.04, 0.26)
PEAK_HALF_WIDTH_BINS = 7
TOTAL_BAND_HZ = (0.0033, 0.4)

# coherence.md §3
FREQ_FS_HZ = 4.0
FREQ_MAX_SEGMENT = 1024
BANDS_HZ = {"vlf_ms2": (0.0033, 0.04), "lf_ms2": (0.04, 0.15), "hf_ms2": (0.15, 0.4)}

DEFINITIONS = {
    "input": "t_i = (rr_0 + ... + rr_i) / 1000 s (numpy cumsum, then / 1000)",
    "time_domain": (
        "mean_rr_ms = mean(rr); hr_bpm = 60000 / mean_rr_ms; sdnn_ms = std(rr, ddof=1); "
        "rmssd_ms = sqrt(mean(diff(rr)^2)); pnn50_pct = 100 * count(|diff(rr)| > 50) / len(rr)"
    ),
    "frequency_domain": (
        "scipy.interpolate.CubicSpline(t, rr) (not-a-knot) through all beats at t_0 + k/4, "
        "k = 0..K-1, K = floor((t_last - t_0) * 4) + 1; scipy.signal.detrend(type='linear'); "
        "scipy.signal.welch(fs=4, window=periodic Hann 0.5-0.5cos(2 pi n/N), nperseg=N=min(1024, K), "
        "noverlap=N//2, nfft=N, detrend=False, scaling='density', average='mean'); "
        "band = sum(P_k * df) over lo <= f_k < hi, df = 4/N; vlf [0.0033,0.04), lf [0.04,0.15), "
        "hf [0.15,0.4); lf_hf = lf/hf; lf_nu = 100 lf/(lf+hf); hf_nu = 100 hf/(lf+hf)"
    ),
    "coherence_window": (
        "windows S_m = t_0 + 5 m while S_m + 64 <= t_last; grid g_n = S + n/4, n = 0..255; knots from "
        "the last beat with t_i <= g_0 to the first with t_i >= g_255; CubicSpline not-a-knot; "
        "scipy.signal.detrend linear over the 256 samples; periodic Hann w_n = 0.5 - 0.5cos(2 pi n/256); "
        "numpy.fft.rfft(x w, n=2048); P_k = |X_k|^2 / (4 * sum(w^2)), doubled for 0 < k < 1024; "
        "f_k = k/512; k_pk = first argmax of P_k over 0.04 <= f_k <= 0.26; peak_hz = f_k_pk; "
        "peak_power = sum P_k df over |k - k_pk| <= 7; total_power = sum P_k df over 0.0033 <= f_k <= 0.4; "
        "df = 1/512; ratio = peak/(total - peak); score = 100 peak/total; breaths_per_min = 60 peak_hz"
    ),
    "cleaning": "none (raw intervals; Rust RecordingOptions { clean: false, window_secs: 64, step_secs: 5 })",
    "neurokit2_time": "nk.hrv_time({'RRI': rr, 'RRI_Time': t}); MeanNN, SDNN, RMSSD, pNN50",
    "neurokit2_frequency": (
        "nk.hrv_frequency({'RRI': rr, 'RRI_Time': t}, normalize=False): 100 Hz quadratic interpolation "
        "(scipy interp1d kind='quadratic'), mean removed (no linear detrend), scipy Welch with "
        "nperseg = int(N/2) of the 100 Hz series, nfft = 2 nperseg, Hann, density; PSD kept only for "
        "f >= 4*fs/N (so VLF loses its lowest part); band power by trapezoid over lo <= f < hi"
    ),
}


# --------------------------------------------------------------------------------------------------
# Recordings
# --------------------------------------------------------------------------------------------------


def pink_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-variance 1/f noise of n samples (spectrum shaped in the frequency domain)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.arange(spectrum.size, dtype=float)
    freqs[0] = 1.0
    spectrum /= np.sqrt(freqs)
    spectrum[0] = 0.0
    x = np.fft.irfft(spectrum, n)
    return x / x.std()


def beats_from_rr_function(rr_at, duration_secs: float) -> np.ndarray:
    """Beats of a heart whose next interval is rr_at(t) ms when the previous beat ended at t."""
    out = []
    t = 0.0
    while t < duration_secs:
        rr = float(rr_at(t))
        out.append(rr)
        t += rr / 1000.0
    return np.array(out)


def on_grid(grid_secs: np.ndarray, values: np.ndarray):
    return lambda t: np.interp(t, grid_secs, values)


def paced_6bpm(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    duration = 300.0
    rr = beats_from_rr_function(lambda t: 1000.0 + 80.0 * math.sin(2 * math.pi * 0.1 * t), duration)
    rr = rr * (1.0 + 0.02 * rng.standard_normal(rr.size))
    return rr, "5 min paced breathing at 6/min: RR = 1000 + 80 sin(2 pi 0.1 t) ms, 2 % multiplicative noise"


def restless(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    duration = 300.0
    grid = np.arange(0.0, duration + 10.0, 0.25)
    wander = 45.0 * pink_noise(rng, grid.size)
    rsa = 12.0 * np.sin(2 * np.pi * 0.27 * grid)
    rr = beats_from_rr_function(on_grid(grid, 780.0 + wander + rsa), duration)
    rr = rr + 25.0 * rng.standard_normal(rr.size)
    return rr, "5 min restless: mean 780 ms, 1/f wander (sd 45 ms), weak 0.27 Hz RSA, white noise sd 25 ms"


def settling(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Restless for 3 min, breathing slows from 16/min to 6/min over 2 min, coherent for 5 min."""
    duration = 600.0
    grid = np.arange(0.0, duration + 10.0, 0.05)
    ramp = np.clip((grid - 180.0) / 120.0, 0.0, 1.0)
    breath_hz = 0.27 + (0.1 - 0.27) * ramp
    phase = 2 * np.pi * np.cumsum(breath_hz) * 0.05
    amplitude = 10.0 + 60.0 * ramp
    wander = (40.0 - 28.0 * ramp) * pink_noise(rng, grid.size)
    mean = 820.0 + 100.0 * ramp
    rr = beats_from_rr_function(on_grid(grid, mean + amplitude * np.sin(phase) + wander), duration)
    noise_sd = np.interp(np.cumsum(rr) / 1000.0, [0.0, 180.0, 300.0, duration], [25.0, 25.0, 10.0, 10.0])
    rr = rr + noise_sd * rng.standard_normal(rr.size)
    return rr, (
        "10 min settling: 3 min restless (mean 820 ms, 1/f wander sd 40 ms, 16/min RSA), breathing "
        "slows to 6/min over 2 min, then 5 min coherent (mean 920 ms, 60 ms at 0.1 Hz)"
    )


def artifacts(rng: np.random.Generator) -> tuple[np.ndarray, str, dict]:
    """A paced recording with ~1 % missed and extra beats and two ectopic beats inserted."""
    duration = 300.0
    grid = np.arange(0.0, duration + 10.0, 0.25)
    wander = 15.0 * pink_noise(rng, grid.size)
    base = 950.0 + 70.0 * np.sin(2 * np.pi * 0.1 * grid) + wander
    clean = beats_from_rr_function(on_grid(grid, base), duration)
    clean = clean * (1.0 + 0.015 * rng.standard_normal(clean.size))
    n = clean.size
    # Positions spread over the recording, away from its ends and from each other.
    slots = rng.choice(np.arange(20, n - 20, 6), size=8, replace=False)
    kinds = ["missed", "missed", "missed", "extra", "extra", "extra", "ectopic", "ectopic"]
    plan = sorted(zip(slots.tolist(), kinds))
    out: list[float] = []
    injected = []
    i = 0
    for pos, kind in plan:
        out.extend(clean[i:pos].tolist())
        i = pos
        if kind == "missed":  # a beat not detected: two intervals read as one
            injected.append({"kind": kind, "index": len(out)})
            out.append(clean[i] + clean[i + 1])
            i += 2
        elif kind == "extra":  # a spurious detection splits one interval in two
            split = float(rng.uniform(0.35, 0.65))
            injected.append({"kind": kind, "index": len(out)})
            out.extend([clean[i] * split, clean[i] * (1.0 - split)])
            i += 1
        else:  # premature beat and compensatory pause
            shift = 0.3 * clean[i]
            injected.append({"kind": kind, "index": len(out)})
            out.extend([clean[i] - shift, clean[i + 1] + shift])
            i += 2
    out.extend(clean[i:].tolist())
    info = {"injected": injected, "clean_twin_rr_ms": np.round(clean, 3)}
    return np.array(out), (
        "5 min paced (6/min, mean 950 ms) with 3 missed, 3 extra and 2 ectopic beats inserted"
    ), info


def ecg_simulated(seed: int) -> tuple[np.ndarray, str]:
    sampling_rate = 500
    ecg = nk.ecg_simulate(
        duration=300, sampling_rate=sampling_rate, heart_rate=66, heart_rate_std=5, method="ecgsyn", random_state=seed
    )
    _, info = nk.ecg_peaks(ecg, sampling_rate=sampling_rate)
    peaks = np.asarray(info["ECG_R_Peaks"])
    rr = np.diff(peaks) / sampling_rate * 1000.0
    return rr, (
        "5 min ECG from nk.ecg_simulate(method='ecgsyn', heart_rate=66, heart_rate_std=5, 500 Hz), "
        "R peaks by nk.ecg_peaks, RR = diff(peaks) in ms (2 ms resolution)"
    )


# --------------------------------------------------------------------------------------------------
# Our definitions (coherence.md §2, §3), independent of the Rust code
# --------------------------------------------------------------------------------------------------


def periodic_hann(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def time_domain(rr: np.ndarray) -> dict:
    d = np.diff(rr)
    mean = float(np.mean(rr))
    return {
        "mean_rr_ms": mean,
        "hr_bpm": 60000.0 / mean,
        "sdnn_ms": float(np.std(rr, ddof=1)),
        "rmssd_ms": float(np.sqrt(np.mean(d**2))),
        "pnn50_pct": float(100.0 * np.count_nonzero(np.abs(d) > 50.0) / rr.size),
    }


def frequency_domain(t: np.ndarray, rr: np.ndarray) -> dict:
    k_count = int(math.floor((t[-1] - t[0]) * FREQ_FS_HZ)) + 1
    grid = t[0] + np.arange(k_count) / FREQ_FS_HZ
    x = scipy.interpolate.CubicSpline(t, rr, bc_type="not-a-knot")(grid)
    x = scipy.signal.detrend(x, type="linear")
    nperseg = min(FREQ_MAX_SEGMENT, k_count)
    window = periodic_hann(nperseg)
    freqs, psd = scipy.signal.welch(
        x,
        fs=FREQ_FS_HZ,
        window=window,
        nperseg=nperseg,
        noverlap=nperseg // 2,
        nfft=nperseg,
        detrend=False,
        return_onesided=True,
        scaling="density",
        average="mean",
    )
    df = FREQ_FS_HZ / nperseg
    out = {}
    for name, (lo, hi) in BANDS_HZ.items():
        sel = (freqs >= lo) & (freqs < hi)
        out[name] = float(np.sum(psd[sel]) * df)
    lf, hf = out["lf_ms2"], out["hf_ms2"]
    out["lf_hf"] = lf / hf
    out["lf_nu"] = 100.0 * lf / (lf + hf)
    out["hf_nu"] = 100.0 * hf / (lf + hf)
    segments = (k_count - nperseg // 2) // (nperseg - nperseg // 2)
    out["samples"] = k_count
    out["segment_samples"] = nperseg
    out["segments"] = int(segments)
    return out


_HANN_256 = periodic_hann(COHERENCE_SAMPLES)
_FREQS_2048 = np.arange(COHERENCE_FFT_POINTS // 2 + 1) * COHERENCE_FS_HZ / COHERENCE_FFT_POINTS


def coherence_window(t: np.ndarray, rr: np.ndarray, start: float) -> dict:
    grid = start + np.arange(COHERENCE_SAMPLES) / COHERENCE_FS_HZ
    first = int(np.nonzero(t <= grid[0])[0][-1])
    last = int(np.nonzero(t >= grid[-1])[0][0])
    x = scipy.interpolate.CubicSpline(t[first : last + 1], rr[first : last + 1], bc_type="not-a-knot")(grid)
    x = scipy.signal.detrend(x, type="linear")
    w = _HANN_256
    spectrum = np.fft.rfft(x * w, n=COHERENCE_FFT_POINTS)
    p = np.abs(spectrum) ** 2 / (COHERENCE_FS_HZ * np.sum(w**2))
    p[1 : COHERENCE_FFT_POINTS // 2] *= 2.0
    f = _FREQS_2048
    df = COHERENCE_FS_HZ / COHERENCE_FFT_POINTS
    band = np.nonzero((f >= PEAK_BAND_HZ[0]) & (f <= PEAK_BAND_HZ[1]))[0]
    k_pk = int(band[np.argmax(p[band])])
    peak = float(np.sum(p[k_pk - PEAK_HALF_WIDTH_BINS : k_pk + PEAK_HALF_WIDTH_BINS + 1]) * df)
    total_sel = (f >= TOTAL_BAND_HZ[0]) & (f <= TOTAL_BAND_HZ[1])
    total = float(np.sum(p[total_sel]) * df)
    # How close the runner-up bin of the peak band comes: a near-tie could flip peak_hz on rounding.
    sorted_band = np.sort(p[band])
    return {
        "start_secs": float(start),
        "end_secs": float(start + WINDOW_SECS),
        "knots": last - first + 1,
        "peak_bin": k_pk,
        "peak_hz": float(f[k_pk]),
        "breaths_per_min": float(60.0 * f[k_pk]),
        "peak_power_ms2": peak,
        "total_power_ms2": total,
        "ratio": peak / (total - peak),
        "score": 100.0 * peak / total,
        "runner_up_rel_gap": float((sorted_band[-1] - sorted_band[-2]) / sorted_band[-1]),
    }


def coherence_windows(t: np.ndarray, rr: np.ndarray) -> list[dict]:
    out = []
    m = 0
    while True:
        start = t[0] + STEP_SECS * m
        if start + WINDOW_SECS > t[-1]:
            break
        out.append(coherence_window(t, rr, start))
        m += 1
    return out


# --------------------------------------------------------------------------------------------------
# NeuroKit2
# --------------------------------------------------------------------------------------------------


def neurokit_time(t: np.ndarray, rr: np.ndarray) -> dict:
    res = nk.hrv_time({"RRI": rr, "RRI_Time": t})
    mean = float(res["HRV_MeanNN"].iloc[0])
    return {
        "mean_rr_ms": mean,
        "hr_bpm": 60000.0 / mean,
        "sdnn_ms": float(res["HRV_SDNN"].iloc[0]),
        "rmssd_ms": float(res["HRV_RMSSD"].iloc[0]),
        "pnn50_pct": float(res["HRV_pNN50"].iloc[0]),
    }


def neurokit_frequency(t: np.ndarray, rr: np.ndarray) -> dict:
    res = nk.hrv_frequency({"RRI": rr, "RRI_Time": t}, normalize=False)
    vlf = float(res["HRV_VLF"].iloc[0])
    lf = float(res["HRV_LF"].iloc[0])
    hf = float(res["HRV_HF"].iloc[0])
    return {
        "vlf_ms2": vlf,
        "lf_ms2": lf,
        "hf_ms2": hf,
        "lf_hf": lf / hf,
        "lf_nu": 100.0 * lf / (lf + hf),
        "hf_nu": 100.0 * hf / (lf + hf),
        # NeuroKit2's own normalisation divides by its total power (ULF..VHF), not by lf+hf.
        "neurokit2_LFn": float(res["HRV_LFn"].iloc[0]),
        "neurokit2_HFn": float(res["HRV_HFn"].iloc[0]),
    }


def neurokit_kubios(rr: np.ndarray) -> dict:
    """NeuroKit2's Lipponen & Tarvainen (2019) correction on peaks at 1 kHz resolution."""
    peaks = np.concatenate([[0], np.round(np.cumsum(rr)).astype(np.int64)])
    # The first pass tells what was detected in the raw series (the iterative call's info only
    # holds its last pass).
    first, _ = nk.signal_fixpeaks(peaks, sampling_rate=1000, iterative=False, method="kubios")
    _, fixed = nk.signal_fixpeaks(peaks, sampling_rate=1000, iterative=True, method="kubios")
    fixed_rr = np.diff(fixed).astype(float)
    # NeuroKit2's indices are into its own rr array, whose element i is the interval ending at peak
    # i (element 0 is a placeholder for the interval before the first peak), so interval index =
    # NeuroKit2 index - 1.
    detected = {k: [int(i) - 1 for i in first[k]] for k in ("ectopic", "missed", "extra", "longshort")}
    fixed_t = fixed[1:] / 1000.0
    return {
        "peaks": "np.round(cumsum(rr)) at 1 kHz with a leading 0, signal_fixpeaks(method='kubios')",
        "coherence_scores": [w["score"] for w in coherence_windows(fixed_t, fixed_rr)],
        "detected_first_pass": detected,
        "beats": int(fixed_rr.size),
        "rr_ms": [round(float(v), 3) for v in fixed_rr],
        "time_domain": time_domain(fixed_rr),
    }


# --------------------------------------------------------------------------------------------------


def rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def write_recording(name: str, rr: np.ndarray) -> np.ndarray:
    path = RECORDINGS_DIR / f"{name}.txt"
    text = "".join(f"{v:.3f}\n" for v in rr)
    path.write_text(text)
    # Read back: every later figure is computed from exactly what Rust will parse.
    return np.array([float(line) for line in path.read_text().splitlines()])


def check_periodic_hann() -> None:
    """scipy's 'hann' for spectral analysis (get_window default fftbins=True) is the periodic one."""
    for n in (256, 1024):
        assert np.allclose(scipy.signal.get_window("hann", n), periodic_hann(n), rtol=0, atol=1e-15)


def main() -> None:
    check_periodic_hann()
    RECORDINGS_DIR.mkdir(parents=True, exist_ok=True)
    REFERENCE_DIR.mkdir(parents=True, exist_ok=True)

    recordings = []
    rr, desc = paced_6bpm(np.random.default_rng(6001))
    recordings.append(("paced_6bpm", rr, desc, {"seed": 6001}))
    rr, desc = restless(np.random.default_rng(6002))
    recordings.append(("restless", rr, desc, {"seed": 6002}))
    rr, desc = settling(np.random.default_rng(6003))
    recordings.append(("settling", rr, desc, {"seed": 6003}))
    rr, desc, info = artifacts(np.random.default_rng(6004))
    recordings.append(("artifacts", rr, desc, {"seed": 6004, **info}))
    rr, desc = ecg_simulated(6005)
    recordings.append(("ecg_simulated", rr, desc, {"seed": 6005}))

    tools = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "neurokit2": nk.__version__,
    }

    for name, rr_generated, desc, generator in recordings:
        rr = write_recording(name, rr_generated)
        twin = generator.pop("clean_twin_rr_ms", None)
        t = np.cumsum(rr) / 1000.0
        ours_time = time_domain(rr)
        nk_time = neurokit_time(t, rr)
        ours_freq = frequency_domain(t, rr)
        nk_freq = neurokit_frequency(t, rr)
        windows = coherence_windows(t, rr)
        fixture = {
            "recording": name,
            "rr_file": f"recordings/{name}.txt",
            "description": desc,
            "generator": generator,
            "algorithm": ALGORITHM,
            "tools": tools,
            "definitions": DEFINITIONS,
            "beats": int(rr.size),
            "t0_secs": float(t[0]),
            "t_last_secs": float(t[-1]),
            "time_domain": {
                "definition": ours_time,
                "neurokit2": nk_time,
                "neurokit2_rel_diff": {k: rel_diff(ours_time[k], nk_time[k]) for k in ours_time},
            },
            "frequency_domain": {
                "definition": ours_freq,
                "neurokit2": nk_freq,
                "neurokit2_rel_diff": {
                    k: rel_diff(ours_freq[k], nk_freq[k])
                    for k in ("vlf_ms2", "lf_ms2", "hf_ms2", "lf_hf", "lf_nu", "hf_nu")
                },
            },
            "coherence": {
                "window_secs": WINDOW_SECS,
                "step_secs": STEP_SECS,
                "windows": windows,
                "mean_score": float(np.mean([w["score"] for w in windows])),
                "mean_ratio": float(np.mean([w["ratio"] for w in windows])),
            },
        }
        if name == "artifacts":
            twin_t = np.cumsum(twin) / 1000.0
            fixture["cleaning"] = {
                "neurokit2_kubios": neurokit_kubios(rr),
                # The recording before the artifacts were inserted: the ideal result of cleaning.
                "clean_twin": {
                    "beats": int(twin.size),
                    "time_domain": time_domain(twin),
                    "coherence_scores": [w["score"] for w in coherence_windows(twin_t, twin)],
                },
            }
        path = REFERENCE_DIR / f"{name}.json"
        path.write_text(json.dumps(fixture, indent=1) + "\n")
        nk_rd = fixture["frequency_domain"]["neurokit2_rel_diff"]
        print(
            f"{name:14s} beats={rr.size:4d} windows={len(windows):3d} "
            f"mean_score={fixture['coherence']['mean_score']:6.2f} "
            + " ".join(f"{k}={v:.3f}" for k, v in nk_rd.items()),
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
