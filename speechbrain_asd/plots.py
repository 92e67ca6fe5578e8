"""Draws a CM's DET curves and score histograms per attack, as PNG files.

Needs the optional matplotlib (``pip install speechbrain-asd[plot]``).

Authors
 * speechbrain-asd developers
"""

from io import BytesIO
from pathlib import Path

import numpy as np
from scipy.special import ndtri

from speechbrain_asd.atomic import write_bytes_atomic
from speechbrain_asd.metrics import (
    check_cm_scores,
    compute_det_curve,
    compute_eer,
)

DET_TICKS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
"""Rates labelled on both DET axes (shown in percent)."""
DET_LIMITS = (0.0005, 0.5)
"""Lowest and highest rate shown; rates outside are drawn on the frame."""
HISTOGRAM_BINS = 50
"""Number of score bins shared by every histogram panel."""
POOLED = "pooled"
"""Name of the curve and panel of all spoof trials together."""
_DPI = 120
_LINE_STYLES = ("-", "--", ":", "-.")
_COLOURS = 10  # the "tab10" cycle
_LEGEND_ROWS = 20
_PANEL_COLUMNS = 4
_BONAFIDE_COLOUR = "0.55"


def probit(rates):
    """Maps rates to normal deviates, the axis scale of DET plots.

    Arguments
    ---------
    rates : array_like
        Rates as fractions; 0 and 1 map to -inf and +inf.

    Returns
    -------
    numpy.ndarray
        ``Phi^-1(rates)``, the inverse of the standard normal CDF.

    Example
    -------
    >>> probit([0.5, 0.841344746, 0.025]).round(4).tolist()
    [0.0, 1.0, -1.96]
    """
    return ndtri(np.asarray(rates, dtype=np.float64))


def _new_figure(**kwargs):
    """Creates a matplotlib figure without pyplot (no global state)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "drawing plots needs matplotlib: pip install "
            "'speechbrain-asd[plot]' (or pip install matplotlib)"
        ) from error
    return Figure(layout="constrained", **kwargs)


def _style(index):
    """Colour and line style of the ``index``-th attack."""
    style = _LINE_STYLES[(index // _COLOURS) % len(_LINE_STYLES)]
    return {"color": f"C{index % _COLOURS}", "linestyle": style}


def _groups(bonafide_scores, spoof_scores, spoof_attacks):
    """Checks the scores and splits the spoof ones by attack."""
    bonafide, spoof, attacks = check_cm_scores(
        bonafide_scores, spoof_scores, spoof_attacks
    )
    groups = [(POOLED, spoof, {"color": "black", "linestyle": "-"})]
    for index, attack in enumerate(np.unique(attacks)):
        groups.append((str(attack), spoof[attacks == attack], _style(index)))
    return bonafide, groups


def _drawn_points(miss_rates, false_alarm_rates):
    """Clips DET points to the plotted range and drops redundant ones."""
    miss = np.clip(miss_rates, *DET_LIMITS)
    false_alarm = np.clip(false_alarm_rates, *DET_LIMITS)
    moved = np.ones(miss.size, dtype=bool)
    moved[1:] = (np.diff(miss) != 0) | (np.diff(false_alarm) != 0)
    miss, false_alarm = miss[moved], false_alarm[moved]
    keep = np.ones(miss.size, dtype=bool)
    for rates in (miss, false_alarm):
        keep[1:-1] &= ~(
            (rates[:-2] == rates[1:-1]) & (rates[1:-1] == rates[2:])
        )
    return miss[keep], false_alarm[keep]


def _det_axes(axes):
    """Sets up probit axes with ticks in percent, grid and labels."""
    ticks = probit(DET_TICKS)
    labels = [f"{100 * rate:g}" for rate in DET_TICKS]
    limits = probit(DET_LIMITS)
    axes.set_xticks(ticks, labels)
    axes.set_yticks(ticks, labels)
    axes.set_xlim(*limits)
    axes.set_ylim(*limits)
    axes.set_aspect("equal")
    axes.grid(True, color="0.85", linewidth=0.8)
    axes.plot(limits, limits, color="0.6", linewidth=0.8, linestyle=":")
    axes.set_xlabel("False alarm rate: spoof accepted (%)")
    axes.set_ylabel("Miss rate: bona fide rejected (%)")


def det_figure(bonafide_scores, spoof_scores, spoof_attacks, title=None):
    """Draws the DET curve of each attack and of all attacks pooled.

    Miss rate against false alarm rate on probit axes. Each attack's curve
    compares all bona fide trials with that attack's spoof trials; a dot marks
    the EER point and the legend gives the EER in percent.

    Arguments
    ---------
    bonafide_scores : array_like
        CM scores of bona fide trials, higher meaning more bona fide.
    spoof_scores : array_like
        CM scores of spoof trials.
    spoof_attacks : sequence of str
        Attack id (e.g. ``"A07"``) of each spoof score.
    title : str, optional
        Figure title; ``"DET curves per attack"`` by default.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, not yet saved (see ``save_figure``).

    Example
    -------
    >>> figure = det_figure(
    ...     [2.0, 1.0], [0.1, -1.0, 1.5, 0.5], ["A01", "A01", "A02", "A02"]
    ... )
    >>> [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    ['pooled: 12.50 %', 'A01: 0.00 %', 'A02: 50.00 %']
    """
    bonafide, groups = _groups(bonafide_scores, spoof_scores, spoof_attacks)
    figure = _new_figure(figsize=(8.5, 6.5))
    axes = figure.add_subplot()
    _det_axes(axes)
    for name, spoof, style in groups:
        curve = compute_det_curve(bonafide, spoof)
        eer = compute_eer(bonafide, spoof)[0]
        miss, false_alarm = _drawn_points(
            curve.miss_rates, curve.false_alarm_rates
        )
        width = 2.2 if name == POOLED else 1.4
        axes.plot(
            probit(false_alarm),
            probit(miss),
            linewidth=width,
            label=f"{name}: {100 * eer:.2f} %",
            **style,
        )
        index = curve.eer_index
        point = np.clip(
            [curve.false_alarm_rates[index], curve.miss_rates[index]],
            *DET_LIMITS,
        )
        axes.plot(
            *probit(point), marker="o", markersize=6, color=style["color"]
        )
    entries = len(groups)
    axes.legend(
        title="EER",
        loc="center left",
        bbox_to_anchor=(1.02, 0.5),
        ncols=1 + (entries - 1) // _LEGEND_ROWS,
        fontsize="small",
    )
    axes.set_title(title or "DET curves per attack")
    return figure


def histogram_figure(bonafide_scores, spoof_scores, spoof_attacks, title=None):
    """Draws bona fide against spoof score densities, one panel per attack.

    The first panel pools all spoof trials; each panel shows all bona fide
    scores and that group's spoof scores over the same bins.

    Arguments
    ---------
    bonafide_scores : array_like
        CM scores of bona fide trials, higher meaning more bona fide.
    spoof_scores : array_like
        CM scores of spoof trials.
    spoof_attacks : sequence of str
        Attack id (e.g. ``"A07"``) of each spoof score.
    title : str, optional
        Figure title; ``"CM score distributions per attack"`` by default.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, not yet saved (see ``save_figure``).

    Example
    -------
    >>> figure = histogram_figure([2.0, 1.5], [0.1, -1.0, 1.6], ["A01"] * 3)
    >>> [axes.get_title() for axes in figure.axes]
    ['pooled (3 spoof)', 'A01 (3 spoof)']
    """
    bonafide, groups = _groups(bonafide_scores, spoof_scores, spoof_attacks)
    edges = np.histogram_bin_edges(
        np.concatenate((bonafide, groups[0][1])), bins=HISTOGRAM_BINS
    )
    bonafide_density = np.histogram(bonafide, edges, density=True)[0]
    columns = min(_PANEL_COLUMNS, len(groups))
    rows = -(-len(groups) // columns)
    figure = _new_figure(figsize=(3.2 * columns + 0.6, 2.4 * rows + 0.9))
    first = None
    for index, (name, spoof, style) in enumerate(groups):
        axes = figure.add_subplot(rows, columns, index + 1, sharex=first)
        first = first or axes
        axes.stairs(
            bonafide_density,
            edges,
            fill=True,
            color=_BONAFIDE_COLOUR,
            alpha=0.6,
            label=f"bona fide ({bonafide.size})",
        )
        axes.stairs(
            np.histogram(spoof, edges, density=True)[0],
            edges,
            color=style["color"],
            linewidth=1.6,
            label="spoof",
        )
        axes.set_title(f"{name} ({spoof.size} spoof)", fontsize="medium")
        axes.grid(True, color="0.9", linewidth=0.8)
        axes.tick_params(labelsize="small")
    first.legend(fontsize="small")
    figure.supxlabel("CM score (higher = more bona fide)")
    figure.supylabel("density")
    figure.suptitle(title or "CM score distributions per attack")
    return figure


def _png_path(path):
    """Checks that a file name ends in ``.png``."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(
            "plots are written as PNG: the file name must end in '.png', "
            f"got {str(path)!r}"
        )
    return path


def save_figure(figure, path):
    """Saves a figure as a PNG file, atomically, creating parent folders.

    Arguments
    ---------
    figure : matplotlib.figure.Figure
        The figure to save.
    path : str or os.PathLike
        The PNG file; its name must end in ``.png``.

    Returns
    -------
    pathlib.Path
        The file written.

    Example
    -------
    >>> figure = det_figure([1.0, 2.0], [0.0, 1.5], ["A01", "A02"])
    >>> path = save_figure(figure, getfixture("tmp_path") / "a" / "det.png")
    >>> path.read_bytes()[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    path = _png_path(path)
    image = BytesIO()
    figure.savefig(image, format="png", dpi=_DPI)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, image.getvalue())
    return path


def plot_det_curves(
    bonafide_scores, spoof_scores, spoof_attacks, path, title=None
):
    """Writes the per-attack and pooled DET curves of a CM as a PNG file.

    Arguments
    ---------
    bonafide_scores : array_like
        CM scores of bona fide trials, higher meaning more bona fide.
    spoof_scores : array_like
        CM scores of spoof trials.
    spoof_attacks : sequence of str
        Attack id (e.g. ``"A07"``) of each spoof score.
    path : str or os.PathLike
        The PNG file to write; parent folders are created.
    title : str, optional
        Figure title (see ``det_figure``).

    Returns
    -------
    pathlib.Path
        The file written.

    Example
    -------
    >>> path = plot_det_curves(
    ...     [2.0, 1.5, 0.2], [0.1, -1.0, 1.6], ["A01", "A01", "A02"],
    ...     getfixture("tmp_path") / "det.png",
    ... )
    >>> path.name, path.stat().st_size > 0
    ('det.png', True)
    """
    path = _png_path(path)
    figure = det_figure(bonafide_scores, spoof_scores, spoof_attacks, title)
    return save_figure(figure, path)


def plot_score_histograms(
    bonafide_scores, spoof_scores, spoof_attacks, path, title=None
):
    """Writes bona fide versus per-attack score histograms as a PNG file.

    Arguments
    ---------
    bonafide_scores : array_like
        CM scores of bona fide trials, higher meaning more bona fide.
    spoof_scores : array_like
        CM scores of spoof trials.
    spoof_attacks : sequence of str
        Attack id (e.g. ``"A07"``) of each spoof score.
    path : str or os.PathLike
        The PNG file to write; parent folders are created.
    title : str, optional
        Figure title (see ``histogram_figure``).

    Returns
    -------
    pathlib.Path
        The file written.

    Example
    -------
    >>> path = plot_score_histograms(
    ...     [2.0, 1.5, 0.2], [0.1, -1.0, 1.6], ["A01", "A01", "A02"],
    ...     getfixture("tmp_path") / "histograms.png",
    ... )
    >>> path.name, path.stat().st_size > 0
    ('histograms.png', True)
    """
    path = _png_path(path)
    figure = histogram_figure(
        bonafide_scores, spoof_scores, spoof_attacks, title
    )
    return save_figure(figure, path)
