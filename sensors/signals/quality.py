"""How usable a window of ECG, PPG or EDA is: a score in [0, 1] and the reason.

The classifier must say ``unknown`` rather than guess on a bad signal, so each
window is checked for the failures seen in the lab: missing samples (NaN),
a flat line (electrode off, device holding its last value), clipping at the
amplifier's rails, heartbeats at impossible intervals, and skin conductance
outside the physiological range. For ECG and PPG, NeuroKit2's template
matching index is folded in (``ppg_quality(method="templatematch")``, the
beat-to-template correlation of Orphanidou et al. 2015, IEEE JBHI 19(3), which
that paper defines for ECG and PPG alike). The score is the product of the partial scores, and the reason
names the worst one, so ``0.0`` always comes with a concrete cause.

Thresholds (stated once, here):

* beats: R-R / pulse intervals outside 0.3-2.0 s (200-30 bpm) or changing by
  more than 50% from one beat to the next are implausible;
* template: a mean beat-template correlation of 0.86 (Orphanidou's
  acceptance threshold) or more scores 1, 0.5 or less scores 0, linear between;
* ECG spectrum: the share of 5-40 Hz power that lies in the QRS band 5-15 Hz
  (pSQI of Li, Mark & Clifford 2008, Physiol Meas 29(1); clean ECG lies in
  0.5-0.8, white noise near 0.29): 0.5 or more scores 1, 0.35 or less 0.
  Band-passed noise has peaks at plausible intervals that match their own
  template, so this is what tells an ECG from noise;
* clipping (ECG, PPG): more than 1% of samples sitting exactly on the
  window's extreme values (each repeated at least 3 times);
* EDA in microsiemens: a median below 0.05 uS means no skin contact, above
  100 uS or negative values are not physiological (wrong units or a fault);
  slopes above 10 uS/s are artefacts; sample-to-sample variation that is
  noise-like (var of differences > var of the signal) and above 0.05 uS is
  not skin conductance.
"""

from __future__ import annotations

import warnings

import neurokit2 as nk
import numpy as np
from scipy.signal import welch

from sensors.kinds import kind_of

MIN_SECONDS = {"ecg": 4.0, "ppg": 4.0, "eda": 2.0}
RR_RANGE_S = (0.3, 2.0)
MAX_RR_CHANGE = 0.5
CLIP_SHARE = 0.01
TEMPLATE_OK = 0.86
QRS_POWER_OK = 0.5
QRS_POWER_NOISE = 0.35
EDA_RANGE_US = (0.05, 100.0)
EDA_MAX_SLOPE_US_S = 10.0
SLOPE_SPAN_S = 0.1  # EDA slopes are measured over this span
EDA_NOISE_US = 0.05


def signal_quality(
    kind: str, data: np.ndarray, sfreq: float, *, peaks: np.ndarray | None = None
) -> tuple[float, str]:
    """Score a window of one signal: ``(score in [0, 1], reason)``; reason is ``"ok"`` when clean.

    ``kind`` is ``ecg``/``ppg``/``eda`` (stream type words such as ``GSR`` are
    accepted). ``peaks`` (sample indices of R peaks / pulse peaks) can be
    passed when the caller has already detected them, to avoid doing it twice.
    """
    norm = kind_of(kind) if kind.lower() not in MIN_SECONDS else kind.lower()
    if norm is None:
        raise ValueError(f"unknown signal kind {kind!r}; use ecg, ppg or eda")
    x = np.asarray(data, dtype=float).ravel()
    if x.size == 0:
        return 0.0, "no samples"
    if not np.isfinite(sfreq) or sfreq <= 0:
        return 0.0, f"unusable sampling rate {sfreq}"
    seconds = x.size / sfreq
    if seconds < MIN_SECONDS[norm]:
        return 0.0, f"only {seconds:.1f} s of signal, need {MIN_SECONDS[norm]:g} s"

    finite = np.isfinite(x)
    nan_share = 1.0 - finite.mean()
    if nan_share > 0.5:
        return 0.0, f"{nan_share:.0%} of samples missing"
    parts: list[tuple[float, str]] = []
    if nan_share > 0:
        parts.append((1.0 - 2.0 * nan_share, f"{nan_share:.0%} of samples missing"))
    valid = x[finite]
    if np.ptp(valid) == 0:
        return 0.0, "flat line (no signal change)"
    held = np.mean(np.diff(valid) == 0)
    if norm != "eda" and held > 0.5:
        return 0.0, f"flat line ({held:.0%} of samples repeat the previous value)"
    # Skin conductance moves slowly and wrist devices quantise it coarsely (the E4:
    # 4 Hz, ~0.001 uS steps), so a 10 s window legitimately holds its highest and
    # lowest value for several samples; an EDA amplifier's rails are what the
    # range checks below catch (no contact, > 100 uS, negative).
    clipped = _clip_share(valid) if norm != "eda" else 0.0
    if clipped > CLIP_SHARE:
        parts.append((max(0.0, 1.0 - 10.0 * clipped), f"clipping ({clipped:.1%} at the rails)"))

    # Interpolate over short NaN runs so NeuroKit2 sees a continuous signal.
    filled = x if nan_share == 0 else _fill(x, finite)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if norm == "eda":
            parts += _eda_parts(valid, sfreq)
        else:
            parts += _beat_parts(norm, filled, sfreq, peaks)

    if not parts:
        return 1.0, "ok"
    score = float(np.clip(np.prod([max(0.0, s) for s, _ in parts]), 0.0, 1.0))
    worst = min(parts, key=lambda p: p[0])
    return score, (worst[1] if worst[0] < 0.999 else "ok")


def _clip_share(x: np.ndarray) -> float:
    n = 0
    for rail in (x.max(), x.min()):
        count = int(np.count_nonzero(x == rail))
        if count >= 3:
            n += count
    return n / x.size


def _fill(x: np.ndarray, finite: np.ndarray) -> np.ndarray:
    idx = np.arange(x.size)
    return np.interp(idx, idx[finite], x[finite])


def _beat_parts(
    kind: str, x: np.ndarray, sfreq: float, peaks: np.ndarray | None
) -> list[tuple[float, str]]:
    fs = int(round(sfreq))
    parts: list[tuple[float, str]] = []
    if kind == "ecg" and sfreq >= 2 * 40.0:
        share = _qrs_power_share(x, sfreq)
        score = (share - QRS_POWER_NOISE) / (QRS_POWER_OK - QRS_POWER_NOISE)
        parts.append((float(np.clip(score, 0.0, 1.0)), f"QRS-band power share {share:.2f}"))
    try:
        if kind == "ecg":
            clean = nk.ecg_clean(x, sampling_rate=fs)
            if peaks is None:
                _, info = nk.ecg_peaks(clean, sampling_rate=fs)
                peaks = np.asarray(info["ECG_R_Peaks"])
        else:
            clean = nk.ppg_clean(x, sampling_rate=fs)
            if peaks is None:
                peaks = np.asarray(nk.ppg_findpeaks(clean, sampling_rate=fs)["PPG_Peaks"])
    except Exception as err:  # noqa: BLE001 - NeuroKit2 fails on garbage; that is the finding
        return [(0.0, f"no heartbeats found ({type(err).__name__})")]
    peaks = np.asarray(peaks, dtype=int)
    seconds = x.size / sfreq
    if peaks.size < max(3, int(seconds / RR_RANGE_S[1])):
        return [(0.0, f"too few heartbeats ({peaks.size} in {seconds:.0f} s)")]
    rr = np.diff(peaks) / sfreq
    bad = (rr < RR_RANGE_S[0]) | (rr > RR_RANGE_S[1])
    bad[1:] |= np.abs(np.diff(rr)) / rr[:-1] > MAX_RR_CHANGE
    share = bad.mean()
    if share > 0:
        parts.append((1.0 - 2.0 * share, f"{share:.0%} implausible beat intervals"))
    try:
        # Orphanidou et al. (2015) template matching, as NeuroKit2 implements it for
        # PPG; the method is signal-agnostic (beats around peaks vs. their mean),
        # and NeuroKit2's ECG "averageQRS" index is relative to the window itself.
        index = nk.ppg_quality(clean, peaks=peaks, sampling_rate=fs, method="templatematch")
        q = float(np.nanmean(index))
    except Exception as err:  # noqa: BLE001 - NeuroKit2 fails on garbage; that is the finding
        # Beats that cannot be template-matched are not evidence of a clean
        # signal: without the index, plausible intervals alone are what noise
        # passed off as heartbeats, so no score is given.
        return [*parts, (0.0, f"beat template could not be computed ({type(err).__name__})")]
    if not np.isfinite(q):
        return [*parts, (0.0, "beat template could not be computed (no complete beats)")]
    # Orphanidou's acceptance threshold is a mean correlation of 0.86: at or above
    # it scores 1; 0.5 (what pure noise reaches) or below scores 0.
    score = float(np.clip((q - 0.5) / (TEMPLATE_OK - 0.5), 0.0, 1.0))
    parts.append((score, f"beat template correlation {q:.2f}"))
    return parts


def _qrs_power_share(x: np.ndarray, sfreq: float) -> float:
    freqs, power = welch(x - x.mean(), fs=sfreq, nperseg=min(x.size, int(4 * sfreq)))
    wide = power[(freqs >= 5.0) & (freqs <= 40.0)].sum()
    return float(power[(freqs >= 5.0) & (freqs <= 15.0)].sum() / wide) if wide > 0 else 0.0


def _eda_parts(x: np.ndarray, sfreq: float) -> list[tuple[float, str]]:
    level = float(np.median(x))
    if x.min() < 0:
        return [(0.0, "negative skin conductance (wrong units or a fault)")]
    if level < EDA_RANGE_US[0]:
        return [(0.0, f"level {level:.3f} uS: no skin contact")]
    if level > EDA_RANGE_US[1]:
        return [(0.0, f"level {level:.0f} uS is not physiological (units not microsiemens?)")]
    steps = np.diff(x)
    # Skin conductance is slow: white noise has var(diff) = 2 var(x), a smooth
    # signal far less. Only sizeable noise counts (sensor quantisation is fine).
    roughness = steps.var() / (2 * x.var())
    if roughness > 0.5 and steps.std() > EDA_NOISE_US:
        return [(0.0, "noise-like EDA without slow skin-conductance dynamics")]
    # slope over 0.1 s, not sample to sample: at 1000 Hz one step of a 10-bit
    # converter (BITalino: 0.024 uS) would otherwise read as 24 uS/s
    lag = max(1, int(round(SLOPE_SPAN_S * sfreq)))
    jumps = np.mean(np.abs(x[lag:] - x[:-lag]) * sfreq / lag > EDA_MAX_SLOPE_US_S)
    if jumps > 0:
        return [(1.0 - 20.0 * jumps, f"{jumps:.1%} of samples jump faster than 10 uS/s")]
    return []
