"""Parameters and multiply-accumulate operations (MACs) of the ResNetSE presets.

Authors
 * speechbrain-asd developers
"""

import copy

import torch
from speechbrain.utils.logger import get_logger
from torch.utils.flop_counter import FlopCounterMode

from speechbrain_asd.lobes.resnet_se import g_resnet_se, l_resnet_se

logger = get_logger(__name__)

HOP_SECONDS = 0.010
PAPER = {
    "teacher": {"params": 6_390_000, "macs": 4_620_000_000},
    "student": {"params": 1_440_000, "macs": 900_000_000},
    # As stated in the paper's abstract: its table gives 0.90 / 4.62 = 19.5 %.
    "ratios": {"params": 0.225, "macs": 0.211},
}


def count_parameters(model):
    """Number of parameters of a model.

    Arguments
    ---------
    model : torch.nn.Module
        The model.

    Returns
    -------
    count : int
        Total number of elements of its parameters.

    Example
    -------
    >>> count_parameters(torch.nn.Linear(10, 3))
    33
    """
    return sum(parameter.numel() for parameter in model.parameters())


def count_macs(model, frames, n_mels=40):
    """Multiply-accumulate operations of one forward pass, measured.

    ``FlopCounterMode`` records the FLOPs of convolutions and matrix products
    on a zero input [1, frames, n_mels] on the model's device, in eval mode
    without gradients; MACs = FLOPs / 2. The model's mode is restored
    afterwards and no random number is drawn.

    Arguments
    ---------
    model : torch.nn.Module
        A model taking features [batch, frames, n_mels].
    frames : int
        Number of input frames.
    n_mels : int
        Number of input bands.

    Returns
    -------
    macs : int
        FLOPs / 2 of the forward pass.

    Example
    -------
    >>> count_macs(torch.nn.Linear(40, 8), frames=100)
    32000
    """
    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    was_training = model.training
    model.eval()
    weights = next(model.parameters(), None)
    device = "cpu" if weights is None else weights.device
    feats = torch.zeros(1, frames, n_mels, device=device)
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(feats)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


def model_card(seconds=4.0):
    """Parameters and MACs of the teacher and student presets.

    Arguments
    ---------
    seconds : float
        Input duration (100 frames per second).

    Returns
    -------
    card : dict
        ``{"seconds", "frames", "teacher": {"params", "macs"}, "student":
        {...}, "ratios": {"params", "macs"}, "paper": {...}}``; ratios are
        student / teacher.

    Example
    -------
    >>> card = model_card(seconds=0.1)
    >>> card["frames"], card["student"]["params"]
    (10, 1440542)
    >>> sorted(card["paper"])
    ['ratios', 'student', 'teacher']
    """
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    frames = max(1, round(seconds / HOP_SECONDS))
    card = {"seconds": seconds, "frames": frames}
    for name, build in (("teacher", g_resnet_se), ("student", l_resnet_se)):
        model = build()
        card[name] = {
            "params": count_parameters(model),
            "macs": count_macs(model, frames),
        }
    card["ratios"] = {
        key: card["student"][key] / card["teacher"][key]
        for key in ("params", "macs")
    }
    card["paper"] = copy.deepcopy(PAPER)
    return card


def format_model_card(card):
    """Formats a model card as a text table, ours next to the paper's.

    Arguments
    ---------
    card : dict
        As returned by ``model_card``.

    Returns
    -------
    table : str
        One row per model, one for the student / teacher ratios, and a note
        on the paper's MACs ratio.

    Example
    -------
    >>> card = {
    ...     "seconds": 4.0,
    ...     "frames": 400,
    ...     "teacher": {"params": 6_392_000, "macs": 4_544_000_000},
    ...     "student": {"params": 1_441_000, "macs": 880_000_000},
    ...     "ratios": {"params": 0.2254, "macs": 0.1937},
    ...     "paper": PAPER,
    ... }
    >>> print(format_model_card(card))
    ResNetSE complexity, 4 s input (400 frames), features excluded
    model        params    paper     diff     MACs    paper     diff
    G-ResNetSE   6.39 M   6.39 M    +0.0%   4.54 G   4.62 G    -1.6%
    L-ResNetSE   1.44 M   1.44 M    +0.1%   0.88 G   0.90 G    -2.2%
    L / G         22.5%    22.5%             19.4%    21.1%
    (paper's 21.1% MACs ratio is from its abstract; its table gives 19.5%)
    """
    paper = card["paper"]
    rows = [["model", "params", "paper", "diff", "MACs", "paper", "diff"]]
    for name, label in (("teacher", "G-ResNetSE"), ("student", "L-ResNetSE")):
        ours, theirs = card[name], paper[name]
        rows.append(
            [
                label,
                f"{ours['params'] / 1e6:.2f} M",
                f"{theirs['params'] / 1e6:.2f} M",
                f"{ours['params'] / theirs['params'] - 1:+.1%}",
                f"{ours['macs'] / 1e9:.2f} G",
                f"{theirs['macs'] / 1e9:.2f} G",
                f"{ours['macs'] / theirs['macs'] - 1:+.1%}",
            ]
        )
    ratios, paper_ratios = card["ratios"], paper["ratios"]
    rows.append(
        [
            "L / G",
            f"{ratios['params']:.1%}",
            f"{paper_ratios['params']:.1%}",
            "",
            f"{ratios['macs']:.1%}",
            f"{paper_ratios['macs']:.1%}",
            "",
        ]
    )
    table_macs = paper["student"]["macs"] / paper["teacher"]["macs"]
    lines = [
        f"ResNetSE complexity, {card['seconds']:g} s input "
        f"({card['frames']} frames), features excluded"
    ]
    for row in rows:
        lines.append(
            (row[0].ljust(10) + "".join(c.rjust(9) for c in row[1:])).rstrip()
        )
    lines.append(
        f"(paper's {paper_ratios['macs']:.1%} MACs ratio is from its abstract;"
        f" its table gives {table_macs:.1%})"
    )
    return "\n".join(lines)
