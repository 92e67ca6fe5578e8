"""Tests of speechbrain_asd.calibration: a case with a known answer, the
threshold rules, and the stored form.

Authors
 * speechbrain-asd developers
"""

import math

import numpy as np
import pytest

from speechbrain_asd.calibration import Calibration, fit_calibration
from speechbrain_asd.metrics import compute_act_dcf, compute_cllr, compute_eer


def _gaussian_scores(n=20000, seed=0):
    """Raw scores 10 x + 3 of x ~ N(+-1, 1): their true LLR is 2 x."""
    rng = np.random.default_rng(seed)
    bonafide, spoof = rng.normal(1, 1, n), rng.normal(-1, 1, n)
    return 10 * bonafide + 3, 10 * spoof + 3


def test_known_answer_recovers_the_true_llr():
    """Raw = 10 x + 3 with LLR 2 x: the map is 0.2 raw - 0.6."""
    bonafide, spoof = _gaussian_scores()
    cal = fit_calibration(bonafide, spoof)
    assert cal.scale == pytest.approx(0.2, rel=0.03)
    assert cal.offset == pytest.approx(-0.6, abs=0.03)
    # Far from calibrated before (raw LLRs are 5x too confident), close
    # to the Gaussian's own Cllr after.
    true_cllr = compute_cllr(0.2 * bonafide - 0.6, 0.2 * spoof - 0.6)
    assert cal.dev_cllr == pytest.approx(true_cllr, abs=1e-3)
    assert cal.dev_cllr < 0.5 * cal.dev_cllr_raw


def test_calibration_lowers_act_dcf_on_held_out_scores():
    """Fitted on one draw, it improves the actDCF of another."""
    dev = _gaussian_scores(seed=1)
    test = _gaussian_scores(seed=2)
    cal = fit_calibration(*dev)
    raw = compute_act_dcf(*test)
    calibrated = compute_act_dcf(cal.llr(test[0]), cal.llr(test[1]))
    assert calibrated < raw


def test_threshold_rules():
    """Bayes: -ln(1.9) for the ASVspoof 5 costs; dev_eer: the calibrated
    dev EER threshold; spoof_far: at most the target share of spoofs."""
    bonafide, spoof = _gaussian_scores(n=2000)
    bayes = fit_calibration(bonafide, spoof)
    assert bayes.rule == "bayes"
    assert bayes.threshold == pytest.approx(-math.log(1.9))
    eer = fit_calibration(bonafide, spoof, rule="dev_eer")
    _, eer_threshold = compute_eer(eer.llr(bonafide), eer.llr(spoof))
    assert eer.threshold == pytest.approx(eer_threshold)
    far = fit_calibration(
        bonafide, spoof, rule="spoof_far", target_spoof_far=0.01
    )
    accepted = np.mean(far.decide(spoof))
    assert accepted <= 0.01
    assert accepted > 0.01 - 2 / spoof.size
    with pytest.raises(ValueError, match="rule"):
        fit_calibration(bonafide, spoof, rule="median")


def test_posterior_uses_the_stated_prior():
    """An LLR of 0 gives the prior; decide compares the LLR."""
    cal = Calibration(1.0, 0.0, 0.5, "bayes", 0.2, 1.0, 0.9)
    assert cal.posterior(0.0) == pytest.approx(0.8)
    assert cal.posterior(math.log(4.0)) == pytest.approx(16 / 17)
    assert cal.decide(np.array([0.49, 0.5])).tolist() == [False, True]


def test_round_trip_and_bad_stored_values():
    """to_dict / from_dict round trip; a broken file is named."""
    cal = fit_calibration(*_gaussian_scores(n=500))
    assert Calibration.from_dict(cal.to_dict()) == cal
    broken = {**cal.to_dict(), "scale": -1.0}
    with pytest.raises(ValueError, match="calib.json: scale must be positive"):
        Calibration.from_dict(broken, "calib.json")
    with pytest.raises(ValueError, match="calib.json: must hold exactly"):
        Calibration.from_dict({"scale": 1.0}, "calib.json")
    with pytest.raises(ValueError, match="offset must be finite"):
        Calibration.from_dict({**cal.to_dict(), "offset": float("nan")})
