"""Tests of the DET and histogram plots and of ``plot_score_file``.

Authors
 * speechbrain-asd developers
"""

import math
import sys

import numpy as np
import pytest

from speechbrain_asd.evaluation import plot_score_file
from speechbrain_asd.metrics import compute_det_curve, compute_eer
from speechbrain_asd.plots import (
    DET_LIMITS,
    det_figure,
    histogram_figure,
    plot_det_curves,
    plot_score_histograms,
    probit,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTTERS = [plot_det_curves, plot_score_histograms]


def _scores(attacks=("A07", "A08", "A09"), per_attack=60, n_bonafide=80):
    """Draws bona fide and per-attack spoof scores, attacks ever closer.

    Arguments
    ---------
    attacks : sequence of str
        Attack ids.
    per_attack : int
        Spoof trials per attack.
    n_bonafide : int
        Bona fide trials.

    Returns
    -------
    bonafide : numpy.ndarray
        Bona fide scores.
    spoof : numpy.ndarray
        Spoof scores.
    spoof_attacks : list of str
        Attack id of each spoof score.
    """
    rng = np.random.default_rng(0)
    bonafide = rng.normal(2.0, 1.0, n_bonafide)
    spoof = np.concatenate(
        [
            rng.normal(-2.0 + index, 1.0, per_attack)
            for index in range(len(attacks))
        ]
    )
    spoof_attacks = [attack for attack in attacks for _ in range(per_attack)]
    return bonafide, spoof, spoof_attacks


def _slow_probit(rate):
    """Inverts the standard normal CDF by bisection, from ``math.erf``.

    Arguments
    ---------
    rate : float
        A rate strictly between 0 and 1.

    Returns
    -------
    float
        The normal deviate ``x`` with ``Phi(x) = rate``.
    """
    low, high = -10.0, 10.0
    for _ in range(200):
        middle = (low + high) / 2
        if 0.5 * (1 + math.erf(middle / math.sqrt(2))) < rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def test_probit_maps_known_rates_to_known_deviates():
    """Probit gives the textbook deviates and the bisection inverse."""
    assert probit([0.5, 0.975, 0.001]) == pytest.approx(
        [0.0, 1.959964, -3.090232], abs=1e-6
    )
    rates = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.9]
    assert probit(rates) == pytest.approx(
        [_slow_probit(rate) for rate in rates], abs=1e-9
    )
    assert probit([0.0, 1.0]).tolist() == [-math.inf, math.inf]


@pytest.mark.parametrize("plotter", PLOTTERS, ids=lambda f: f.__name__)
def test_plots_are_png_files_in_new_folders(tmp_path, plotter):
    """Each plotter writes a readable PNG, creating the parent folders."""
    from matplotlib.image import imread

    path = plotter(*_scores(), tmp_path / "a" / "b" / "plot.png")
    assert path == tmp_path / "a" / "b" / "plot.png"
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert sorted(p.name for p in path.parent.iterdir()) == ["plot.png"]


def test_det_legend_has_pooled_then_each_attack_with_its_eer():
    """One legend entry per attack plus pooled, EERs as metrics gives them."""
    bonafide, spoof, attacks = _scores(("A09", "A07", "A08"))
    figure = det_figure(bonafide, spoof, attacks)
    texts = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    spoof_attacks = np.array(attacks)
    expected = [f"pooled: {100 * compute_eer(bonafide, spoof)[0]:.2f} %"]
    for attack in ("A07", "A08", "A09"):
        eer = compute_eer(bonafide, spoof[spoof_attacks == attack])[0]
        expected.append(f"{attack}: {100 * eer:.2f} %")
    assert texts == expected


def test_det_marks_the_eer_point_on_each_curve():
    """The dot of each curve sits at the DET point where the EER is read."""
    bonafide, spoof, attacks = _scores(("A07",))
    lines = det_figure(bonafide, spoof, attacks).axes[0].get_lines()
    curve = compute_det_curve(bonafide, spoof)
    index = curve.eer_index
    expected = probit(
        np.clip(
            [curve.false_alarm_rates[index], curve.miss_rates[index]],
            *DET_LIMITS,
        )
    )
    dots = [line for line in lines if line.get_marker() == "o"]
    assert len(dots) == 2  # pooled and A07
    for dot in dots:
        assert [dot.get_xdata()[0], dot.get_ydata()[0]] == pytest.approx(
            expected
        )


def test_det_curves_are_thinned_staircases_within_the_frame():
    """Drawn points stay in range, every segment is horizontal or vertical.

    With 3000 trials a side, rates of 1/3000 fall below the frame, so both
    rates get clipped at some points; the overlapping attacks clip both at
    the start of their curves.
    """
    bonafide, spoof, attacks = _scores(per_attack=3000, n_bonafide=3000)
    lines = det_figure(bonafide, spoof, attacks).axes[0].get_lines()
    curves = [line for line in lines if not line.get_label().startswith("_")]
    low, high = probit(DET_LIMITS)
    assert len(curves) == 4
    for line in curves:
        x, y = line.get_xdata(), line.get_ydata()
        assert np.all((x >= low) & (x <= high) & (y >= low) & (y <= high))
        assert np.all((np.diff(x) == 0) != (np.diff(y) == 0)), line
    full_size = compute_det_curve(bonafide, spoof).miss_rates.size
    assert curves[0].get_xdata().size < full_size / 4


def test_attack_styles_stay_distinct_past_ten_attacks():
    """Thirteen attacks get thirteen different colour and dash pairs."""
    attacks = [f"A{number:02d}" for number in range(7, 20)]
    figure = det_figure(*_scores(attacks, per_attack=5))
    drawn = [
        line
        for line in figure.axes[0].get_lines()
        if line.get_label()[:1] == "A"
    ]
    styles = {(line.get_color(), line.get_linestyle()) for line in drawn}
    assert len(drawn) == len(styles) == len(attacks)


def test_histograms_have_a_pooled_panel_then_one_per_attack():
    """Panels: pooled first, then the attacks sorted, with spoof counts."""
    bonafide, spoof, attacks = _scores(("A08", "A07"), per_attack=30)
    figure = histogram_figure(bonafide, spoof, attacks, title="T")
    titles = [axes.get_title() for axes in figure.axes]
    assert titles == ["pooled (60 spoof)", "A07 (30 spoof)", "A08 (30 spoof)"]
    assert figure.get_suptitle() == "T"


@pytest.mark.parametrize("plotter", PLOTTERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "bonafide, spoof, attacks, message",
    [
        ([], [0.0], ["A01"], "bonafide_scores is empty"),
        ([1.0], [], [], "spoof_scores is empty"),
        ([1.0], [0.0, 0.5], ["A01"], "spoof_attacks has 1 entries for 2"),
        ([1.0, math.nan], [0.0], ["A01"], "bonafide_scores holds 1 non-fin"),
        ([1.0], [0.0, math.inf], ["A01"] * 2, "spoof_scores holds 1 non-fin"),
        ([[1.0]], [0.0], ["A01"], "must be a 1-D sequence"),
    ],
)
def test_bad_scores_raise_and_leave_nothing(
    tmp_path, plotter, bonafide, spoof, attacks, message
):
    """Bad inputs are named in the error and no file or folder is made."""
    with pytest.raises(ValueError, match=message):
        plotter(bonafide, spoof, attacks, tmp_path / "out" / "plot.png")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("plotter", PLOTTERS, ids=lambda f: f.__name__)
def test_a_file_name_not_ending_in_png_is_refused(tmp_path, plotter):
    """Plots are PNG: another extension is an error before any drawing."""
    with pytest.raises(ValueError, match=r"must end in '\.png'.*plot\.jpg"):
        plotter(*_scores(), tmp_path / "plot.jpg")
    assert list(tmp_path.iterdir()) == []


def test_missing_matplotlib_says_how_to_install_it(monkeypatch):
    """Without matplotlib the error names the extra to install."""
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"speechbrain-asd\[plot\]"):
        det_figure(*_scores())


def _write_case(folder, missing_score=False):
    """Writes a protocol and a score file of two attacks.

    Arguments
    ---------
    folder : pathlib.Path
        Where to write ``protocol.txt`` and ``scores.txt``.
    missing_score : bool
        Leave the last trial out of the score file.

    Returns
    -------
    scores : pathlib.Path
        The score file.
    protocol : pathlib.Path
        The protocol.
    """
    bonafide, spoof, attacks = _scores(("A07", "A08"), per_attack=20)
    protocol, scores = [], []
    for index, score in enumerate(bonafide):
        protocol.append(f"LA_0001 LA_E_{index} - - bonafide")
        scores.append(f"LA_E_{index} {score:.6f}")
    for index, (score, attack) in enumerate(zip(spoof, attacks), 1000):
        protocol.append(f"LA_0002 LA_E_{index} - {attack} spoof")
        scores.append(f"LA_E_{index} {score:.6f}")
    if missing_score:
        scores.pop()
    (folder / "protocol.txt").write_text("\n".join(protocol) + "\n")
    (folder / "scores.txt").write_text("\n".join(scores) + "\n")
    return folder / "scores.txt", folder / "protocol.txt"


def test_plot_score_file_writes_both_plots(tmp_path):
    """The evaluate --plot job writes det.png and histograms.png."""
    scores, protocol = _write_case(tmp_path)
    paths = plot_score_file(scores, protocol, tmp_path / "plots" / "eval")
    assert [p.name for p in paths] == ["det.png", "histograms.png"]
    assert all(p.parent == tmp_path / "plots" / "eval" for p in paths)
    assert all(p.read_bytes()[:8] == PNG_SIGNATURE for p in paths)


def test_plot_score_file_refuses_unscored_trials(tmp_path):
    """Trials without a score are an error naming the file; nothing drawn."""
    scores, protocol = _write_case(tmp_path, missing_score=True)
    with pytest.raises(ValueError, match=r"scores\.txt: no score for 1 tr"):
        plot_score_file(scores, protocol, tmp_path / "plots")
    assert not (tmp_path / "plots").exists()
