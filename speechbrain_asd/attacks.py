"""Attacks on waveforms: the paper's BIM (AEG) and attacks on a CM's score.

Authors
 * speechbrain-asd developers
"""

import contextlib
import math
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import soundfile as sf
import torch
import torch.nn.functional as F
from speechbrain.utils.data_utils import batch_pad_right
from tqdm import tqdm

from speechbrain_asd.checks import (
    check_choice,
    check_int,
    check_number,
    check_positive,
)
from speechbrain_asd.lobes.score import bonafide_score

SAMPLE_SCALE = 32768.0
KEEP_RULES = ("below", "above")

Rows = Union[Mapping[str, Mapping], Sequence[Mapping]]


@dataclass
class BIMResult:
    """Output of ``bim_attack`` for a batch of pairs.

    Arguments
    ---------
    adversarial : torch.Tensor
        Perturbed waveforms W2 + D, ``[B, S]`` like the attacked batch
        (padding left as it was).
    similarity : torch.Tensor
        Cosine similarity of the final example to the reference, ``[B]``.
    initial_similarity : torch.Tensor
        Cosine similarity before the attack (D = 0), ``[B]``.
    keep : torch.Tensor
        Boolean ``[B]``: which examples pass the threshold filter.

    Example
    -------
    >>> result = BIMResult(
    ...     torch.zeros(1, 4), torch.tensor([0.3]), torch.tensor([0.2]),
    ...     torch.tensor([True]),
    ... )
    >>> result.keep.tolist()
    [True]
    """

    adversarial: torch.Tensor
    similarity: torch.Tensor
    initial_similarity: torch.Tensor
    keep: torch.Tensor


@dataclass
class ScoreAttackResult:
    """Output of ``score_attack``.

    Arguments
    ---------
    adversarial : torch.Tensor
        Perturbed waveforms, ``[B, S]`` (padding left as it was).
    score_before : torch.Tensor
        Bona fide scores of the original waveforms, ``[B]``.
    score_after : torch.Tensor
        Bona fide scores of the perturbed waveforms, ``[B]``, at least
        ``score_before``.

    Example
    -------
    >>> result = ScoreAttackResult(
    ...     torch.zeros(1, 4), torch.tensor([-2.0]), torch.tensor([1.0])
    ... )
    >>> float(result.score_after - result.score_before)
    3.0
    """

    adversarial: torch.Tensor
    score_before: torch.Tensor
    score_after: torch.Tensor


def bim_attack(
    embed_fn: Callable,
    reference_wavs: torch.Tensor,
    reference_lens: torch.Tensor,
    wavs: torch.Tensor,
    lens: torch.Tensor,
    alpha: float = 3.0,
    iterations: int = 5,
    threshold: float = 0.4,
    epsilon: Optional[float] = None,
    keep: str = "below",
    sample_scale: float = SAMPLE_SCALE,
    model=None,
) -> BIMResult:
    """Runs the basic iterative method of the paper's Algorithm 1 on a batch.

    The algorithm of "Training strategies for a lightweight countermeasure
    model for automatic speaker verification" (ICASSP 2023). For each pair
    (W1 = reference, W2 = attacked waveform, same speaker): X1 = emb(W1);
    D = 0; ``iterations`` times: s = cos(X1, emb(W2 + D)),
    D = clip(D + alpha * sign(grad_D s), -epsilon, epsilon), with W2 + D
    kept within [-1, 1] and D zero on padding. The final s decides whether
    the example passes the filter: ``keep="below"`` keeps s < threshold
    (the paper's text), ``keep="above"`` keeps s > threshold (its
    pseudo-code). Gradients are taken with respect to D only.

    Arguments
    ---------
    embed_fn : Callable
        ``embed_fn(wavs [B, S], lens [B]) -> [B, D]`` embeddings.
    reference_wavs : torch.Tensor
        W1, padded waveforms ``[B, S1]`` in [-1, 1].
    reference_lens : torch.Tensor
        Relative lengths of W1, ``[B]``.
    wavs : torch.Tensor
        W2, the waveforms to perturb, padded ``[B, S2]`` in [-1, 1].
    lens : torch.Tensor
        Relative lengths of W2, ``[B]``.
    alpha : float
        Step per iteration, in ``sample_scale`` units (paper: 3.0).
    iterations : int
        Number of signed-gradient steps (paper: 5).
    threshold : float
        Cosine-similarity threshold of the filter (paper: 0.4).
    epsilon : float, optional
        L-infinity bound of D in ``sample_scale`` units; default
        ``alpha * iterations`` (never binding).
    keep : str
        ``"below"`` keeps s < threshold, ``"above"`` keeps s > threshold.
    sample_scale : float
        Waveform value that ``alpha`` and ``epsilon`` units map to 1:
        32768 means int16 units.
    model : torch.nn.Module or list of them, optional
        Put in eval mode during the attack, every submodule's mode restored
        after; default: ``embed_fn`` itself, or the module it is a bound
        method of.

    Returns
    -------
    result : BIMResult
        Adversarial waveforms, final and initial similarities, keep mask.

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Linear(400, 8)
    >>> embed = lambda wavs, lens: net(wavs)
    >>> w1, w2 = 0.1 * torch.randn(2, 3, 400)
    >>> lens = torch.ones(3)
    >>> out = bim_attack(embed, w1, lens, w2, lens, alpha=30.0)
    >>> out.adversarial.shape, out.keep.dtype
    (torch.Size([3, 400]), torch.bool)
    >>> bool((out.similarity > out.initial_similarity).all())
    True
    >>> bool(((out.adversarial - w2).abs() * 32768 <= 150.01).all())
    True
    """
    check_choice("keep", keep, KEEP_RULES)
    check_attack_steps(alpha, iterations, epsilon, sample_scale)
    _check_batch("reference_wavs", reference_wavs, reference_lens)
    _check_batch("wavs", wavs, lens)
    if len(reference_wavs) != len(wavs):
        raise ValueError(
            f"reference_wavs has {len(reference_wavs)} waveforms but wavs "
            f"has {len(wavs)}: BIM needs one reference per attacked waveform"
        )
    modules = attacked_modules(embed_fn, model)
    with _eval_mode(modules), torch.no_grad():
        reference = embed_fn(reference_wavs, reference_lens)
    if reference.dim() != 2 or len(reference) != len(wavs):
        raise ValueError(
            f"embed_fn must return [B, D] embeddings, got shape "
            f"{tuple(reference.shape)} for B = {len(wavs)}"
        )

    def similarity(perturbed):
        """Cosine similarity of W2 + D to the references, ``[B]``."""
        return F.cosine_similarity(reference, embed_fn(perturbed, lens), -1)

    adversarial, before, after = _signed_ascent(
        similarity,
        wavs,
        lens,
        alpha,
        iterations,
        epsilon,
        sample_scale,
        modules,
    )
    passed = after < threshold if keep == "below" else after > threshold
    return BIMResult(adversarial, after, before, passed)


def score_attack(
    score_fn: Callable,
    wavs: torch.Tensor,
    lens: torch.Tensor,
    alpha: float = 3.0,
    iterations: int = 5,
    epsilon: Optional[float] = None,
    sample_scale: float = SAMPLE_SCALE,
    model=None,
) -> ScoreAttackResult:
    """White-box BIM/PGD attack raising a countermeasure's bona fide score.

    ``iterations`` steps of D = clip(D + alpha * sign(grad_D score),
    -epsilon, epsilon), with the waveform kept within [-1, 1] and D zero on
    padding, push spoofed inputs to look bona fide. Each waveform gets the
    iterate of highest score, D = 0 included, so its score never drops.
    Units and gradients as in ``bim_attack``.

    Arguments
    ---------
    score_fn : Callable
        ``score_fn(wavs [B, S], lens [B]) -> [B]`` bona fide scores (higher
        means more bona fide).
    wavs : torch.Tensor
        Padded waveforms ``[B, S]`` in [-1, 1].
    lens : torch.Tensor
        Relative lengths, ``[B]``.
    alpha : float
        Step per iteration, in ``sample_scale`` units.
    iterations : int
        Number of signed-gradient steps.
    epsilon : float, optional
        L-infinity bound in ``sample_scale`` units; default
        ``alpha * iterations``.
    sample_scale : float
        Waveform value that ``alpha`` and ``epsilon`` units map to 1.
    model : torch.nn.Module or list of them, optional
        Put in eval mode during the attack (modes restored after); default:
        ``score_fn`` itself, or the module it is a bound method of.

    Returns
    -------
    result : ScoreAttackResult
        Perturbed waveforms and the scores before and after.

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Linear(400, 1)
    >>> score = lambda wavs, lens: net(wavs).squeeze(-1)
    >>> wavs, lens = 0.1 * torch.randn(2, 400), torch.ones(2)
    >>> out = score_attack(score, wavs, lens, alpha=30.0, iterations=3)
    >>> bool((out.score_after > out.score_before).all())
    True
    """
    check_attack_steps(alpha, iterations, epsilon, sample_scale)
    _check_batch("wavs", wavs, lens)

    def score(perturbed):
        """Bona fide scores ``[B]`` of the perturbed batch, shape checked."""
        values = score_fn(perturbed, lens)
        if values.shape != (len(wavs),):
            raise ValueError(
                f"score_fn must return [B] scores, got shape "
                f"{tuple(values.shape)} for B = {len(wavs)}"
            )
        return values

    adversarial, before, after = _signed_ascent(
        score,
        wavs,
        lens,
        alpha,
        iterations,
        epsilon,
        sample_scale,
        attacked_modules(score_fn, model),
        keep_best=True,
    )
    return ScoreAttackResult(adversarial, before, after)


class WaveformScorer(torch.nn.Module):
    """A countermeasure's bona fide score as a function of the waveform.

    Features with exact frame lengths, the model's logits and their bona
    fide log-odds, as ``SpoofDetector`` computes them, with gradients
    flowing back to the waveform: the ``score_fn`` of ``score_attack``.

    Arguments
    ---------
    features : torch.nn.Module
        Feature extractor with ``with_frame_lengths(wavs, lens)`` (e.g.
        ``speechbrain_asd.features.LogMelFeatures``).
    model : torch.nn.Module
        ``model(feats, lengths) -> [B, n_classes]`` logits.
    bonafide_index : int
        Column of the bona fide class.

    Example
    -------
    >>> from speechbrain_asd.features import LogMelFeatures
    >>> from speechbrain_asd.lobes.resnet_se import ResNetSE
    >>> model = ResNetSE(channels=(4, 4, 4, 4), blocks=(1, 1, 1, 1))
    >>> scorer = WaveformScorer(LogMelFeatures(), model).eval()
    >>> scorer(torch.randn(2, 8000), torch.tensor([1.0, 0.6])).shape
    torch.Size([2])
    """

    def __init__(self, features, model, bonafide_index=0):
        """Stores the feature extractor, the model and the bona fide column."""
        super().__init__()
        self.features = features
        self.model = model
        self.bonafide_index = bonafide_index

    def forward(self, wavs, lens):
        """Scores padded waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            Padded waveforms, ``[B, S]``.
        lens : torch.Tensor
            Relative lengths, ``[B]``.

        Returns
        -------
        torch.Tensor
            Bona fide scores, ``[B]`` (higher means more bona fide).
        """
        feats, frame_lens = self.features.with_frame_lengths(wavs, lens)
        logits = self.model(feats, frame_lens).float()
        return bonafide_score(logits, self.bonafide_index)


def score_under_attack(
    scorers: Mapping[str, Callable],
    rows: Rows,
    budgets: Sequence[float] = (0,),
    attacked: Optional[str] = None,
    iterations: int = 10,
    step_ratio: float = 0.25,
    sample_scale: float = SAMPLE_SCALE,
    batch_size: int = 8,
    max_duration: Optional[float] = None,
    sample_rate: int = 16000,
    device=None,
    progress: bool = False,
) -> Dict[float, Dict[str, Dict[str, float]]]:
    """Scores utterances with countermeasures, clean and under attack.

    The rows are read in batches, in the order given, and each batch is
    scored at every budget: budget 0 is the clean waveform; a budget
    epsilon > 0 is the output of ``score_attack`` against
    ``scorers[attacked]`` with that L-infinity bound and ``iterations``
    steps of ``step_ratio * epsilon``. Every scorer scores the perturbed
    waveforms: the attacked one is the white-box case, the others the
    transfer case. Scorers that are modules run in eval mode, their modes
    restored after.

    Arguments
    ---------
    scorers : Mapping[str, Callable]
        Name -> ``score_fn(wavs [B, S], lens [B]) -> [B]`` bona fide
        scores, e.g. ``WaveformScorer`` modules.
    rows : dict or Sequence[dict]
        Utterances with ``ID`` and ``wav`` (an audio file at
        ``sample_rate``, mono): a list of dicts or ``{ID: row}``.
    budgets : Sequence[float]
        L-infinity budgets in ``sample_scale`` units, >= 0, distinct.
    attacked : str, optional
        The scorer whose gradient crafts the perturbation; needed when a
        budget is above 0.
    iterations : int
        Steps of the attack.
    step_ratio : float
        Step as a fraction of the budget (``iterations * step_ratio >= 1``
        lets the attack reach the bound).
    sample_scale : float
        Waveform value that budget units map to 1: 32768 means int16 units.
    batch_size : int
        Utterances per batch.
    max_duration : float, optional
        Only the first ``max_duration`` seconds of each file are read;
        default: whole files.
    sample_rate : int
        Sample rate every file must have.
    device : str or torch.device, optional
        Device of the waveforms; default: that of the first parameter of
        the scorers, else the CPU.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    scores : Dict[float, Dict[str, Dict[str, float]]]
        Budget -> scorer name -> ID -> bona fide score.

    Example
    -------
    >>> import numpy as np
    >>> tmp = getfixture("tmp_path")
    >>> rng = np.random.default_rng(0)
    >>> rows = []
    >>> for i in range(3):
    ...     sf.write(tmp / f"u{i}.flac", 0.1 * rng.standard_normal(800), 16000)
    ...     rows.append({"ID": f"u{i}", "wav": str(tmp / f"u{i}.flac")})
    >>> _ = torch.manual_seed(0)
    >>> net, other = torch.nn.Linear(800, 1), torch.nn.Linear(800, 1)
    >>> scorers = {
    ...     "a": lambda wavs, lens: net(wavs).squeeze(-1),
    ...     "b": lambda wavs, lens: other(wavs).squeeze(-1),
    ... }
    >>> scores = score_under_attack(scorers, rows, [0, 16], attacked="a")
    >>> sorted(scores), sorted(scores[16]), sorted(scores[16]["a"])
    ([0, 16], ['a', 'b'], ['u0', 'u1', 'u2'])
    >>> all(scores[16]["a"][i] > scores[0]["a"][i] for i in scores[0]["a"])
    True
    """
    if not scorers:
        raise ValueError("scorers is empty: nothing scores the utterances")
    rows = rows_with_ids(rows)
    if not rows:
        raise ValueError("rows is empty: nothing to score")
    counts = Counter(row["ID"] for row in rows)
    repeated = sorted(i for i, n in counts.items() if n > 1)
    if repeated:
        raise ValueError(f"rows repeat IDs: {repeated[:5]}")
    budgets = list(budgets)
    for budget in budgets:
        check_number("budget", budget, minimum=0.0)
    if not budgets or len(set(budgets)) != len(budgets):
        raise ValueError(f"budgets must be distinct and non-empty: {budgets}")
    if any(budgets) and attacked not in scorers:
        raise ValueError(
            f"attacked must name one of the scorers {sorted(scorers)} when a "
            f"budget is above 0, got {attacked!r}"
        )
    check_positive("step_ratio", step_ratio)
    check_int("iterations", iterations, minimum=1)
    check_positive("sample_scale", sample_scale)
    max_samples = max_samples_to_read(batch_size, max_duration, sample_rate)
    modules = {name: attacked_modules(fn, None) for name, fn in scorers.items()}
    every_module = [m for group in modules.values() for m in group]
    if device is None:
        device = modules_device(every_module)
    scores = {b: {name: {} for name in scorers} for b in budgets}
    with (
        _eval_mode(every_module),
        tqdm(
            total=len(rows), desc="scoring", unit="utt", disable=not progress
        ) as bar,
    ):
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            wavs, lens = load_audio_batch(
                chunk, sample_rate, max_samples, device
            )
            for budget in budgets:
                batch_scores = {}
                if budget > 0:
                    result = score_attack(
                        scorers[attacked],
                        wavs,
                        lens,
                        alpha=step_ratio * budget,
                        iterations=iterations,
                        epsilon=budget,
                        sample_scale=sample_scale,
                        model=modules[attacked],
                    )
                    wavs_scored = result.adversarial
                    batch_scores[attacked] = result.score_after
                else:
                    wavs_scored = wavs
                with torch.no_grad():
                    for name, score_fn in scorers.items():
                        if name not in batch_scores:
                            batch_scores[name] = score_fn(wavs_scored, lens)
                for name, values in batch_scores.items():
                    for row, value in zip(chunk, values.tolist()):
                        scores[budget][name][row["ID"]] = float(value)
            bar.update(len(chunk))
    return scores


def _signed_ascent(
    objective,
    wavs,
    lens,
    alpha,
    iterations,
    epsilon,
    sample_scale,
    modules,
    keep_best=False,
):
    """Maximises ``objective(wavs + D)`` by bounded signed-gradient steps."""
    if epsilon is None:
        epsilon = alpha * iterations
    step, bound = alpha / sample_scale, epsilon / sample_scale
    wavs = wavs.detach()
    n_valid = torch.round(lens * wavs.shape[1]).unsqueeze(1)
    mask = torch.arange(wavs.shape[1], device=wavs.device) < n_valid
    delta = torch.zeros_like(wavs)
    with _eval_mode(modules), torch.enable_grad():
        for iteration in range(iterations):
            delta.requires_grad_(True)
            values = objective(wavs + delta)
            if iteration == 0:
                before = values.detach()
                best, best_delta = before, delta.detach()
            elif keep_best:
                best, best_delta = _keep_higher(
                    best, best_delta, values.detach(), delta.detach()
                )
            if not values.requires_grad:
                raise RuntimeError(
                    "the attacked model's output does not depend on the "
                    "waveform through autograd (called under "
                    "torch.inference_mode, or detached inside?)"
                )
            (grad,) = torch.autograd.grad(
                values.sum(), delta, allow_unused=True
            )
            if grad is None:
                grad = torch.zeros_like(wavs)
            with torch.no_grad():
                delta = delta + step * grad.sign()
                delta = (wavs + delta).clamp(-1.0, 1.0) - wavs
                delta = delta.clamp(-bound, bound) * mask
        with torch.no_grad():
            delta = delta.detach()
            after = objective(wavs + delta).detach()
            if keep_best:
                after, delta = _keep_higher(best, best_delta, after, delta)
    return wavs + delta, before, after


def _keep_higher(best, best_delta, values, delta):
    """Keeps, per waveform, the perturbation of higher objective (ties: old)."""
    higher = values > best
    best_delta = torch.where(higher.unsqueeze(1), delta, best_delta)
    return torch.where(higher, values, best), best_delta


def check_attack_steps(alpha, iterations, epsilon, sample_scale):
    """Checks the step, iteration count, bound and scale of an attack.

    Arguments
    ---------
    alpha : float
        Step size, in sample units (> 0).
    iterations : int
        Number of steps (>= 1).
    epsilon : float or None
        Bound of the perturbation, in sample units (> 0), or None for none.
    sample_scale : float
        Sample units per unit of waveform amplitude (> 0).

    Raises
    ------
    ValueError
        Naming the first argument out of range.

    Example
    -------
    >>> check_attack_steps(1.0, 10, None, SAMPLE_SCALE)
    >>> check_attack_steps(1.0, 10, 0, SAMPLE_SCALE)
    Traceback (most recent call last):
    ...
    ValueError: epsilon must be a number > 0, got 0
    """
    check_int("iterations", iterations, minimum=1)
    check_positive("alpha", alpha)
    check_positive("sample_scale", sample_scale)
    if epsilon is not None and not (
        isinstance(epsilon, (int, float)) and 0 < epsilon < math.inf
    ):
        raise ValueError(f"epsilon must be a number > 0, got {epsilon!r}")


def max_samples_to_read(batch_size, max_duration, sample_rate):
    """Checks the batching options and gives the samples read per file.

    Arguments
    ---------
    batch_size : int
        Files per batch (>= 1).
    max_duration : float or None
        Seconds read from the start of each file (> 0); None reads all.
    sample_rate : int
        The audio's sample rate.

    Returns
    -------
    int or None
        Samples read per file; None for whole files.

    Example
    -------
    >>> max_samples_to_read(4, 2.5, 16000), max_samples_to_read(4, None, 16000)
    (40000, None)
    """
    check_int("batch_size", batch_size, minimum=1)
    if max_duration is None:
        return None
    check_positive("max_duration", max_duration)
    return int(round(max_duration * sample_rate))


def _check_batch(name, wavs, lens):
    """Checks a padded waveform batch and its relative lengths."""
    if wavs.dim() != 2 or not wavs.is_floating_point() or len(wavs) == 0:
        raise ValueError(
            f"{name} must be a non-empty float tensor [B, S], got "
            f"{wavs.dtype} of shape {tuple(wavs.shape)}"
        )
    if lens.shape != (len(wavs),):
        raise ValueError(
            f"the lengths of {name} must have shape ({len(wavs)},), got "
            f"{tuple(lens.shape)}"
        )
    if not bool(((lens > 0) & (lens <= 1)).all()):
        raise ValueError(
            f"the relative lengths of {name} must lie in (0, 1], got "
            f"{lens.tolist()}"
        )


def attacked_modules(fn, model) -> List[torch.nn.Module]:
    """Lists the modules whose train/eval mode an attack must manage.

    Arguments
    ---------
    fn : callable
        The attacked function (a module, a bound method of one, or any).
    model : torch.nn.Module or sequence of them, optional
        The modules, when given; None finds the module behind ``fn``.

    Returns
    -------
    list of torch.nn.Module
        The modules (empty when ``fn`` has none behind it).

    Example
    -------
    >>> layer = torch.nn.Linear(2, 1)
    >>> attacked_modules(layer.forward, None) == [layer]
    True
    >>> attacked_modules(lambda x: x, None)
    []
    """
    if model is None:
        owner = fn if isinstance(fn, torch.nn.Module) else None
        if owner is None:
            owner = getattr(fn, "__self__", None)
        model = owner if isinstance(owner, torch.nn.Module) else []
    if isinstance(model, torch.nn.Module):
        return [model]
    return list(model)


@contextlib.contextmanager
def _eval_mode(modules):
    """Puts modules in eval mode, restoring every submodule's mode after."""
    saved = [(m, m.training) for top in modules for m in top.modules()]
    try:
        for top in modules:
            top.eval()
        yield
    finally:
        for module, training in saved:
            module.training = training


def modules_device(modules):
    """The device of the modules' first parameter, else the CPU.

    Arguments
    ---------
    modules : sequence of torch.nn.Module
        The modules.

    Returns
    -------
    torch.device
        Where the first parameter lies; the CPU without parameters.

    Example
    -------
    >>> modules_device([torch.nn.ReLU(), torch.nn.Linear(2, 1)])
    device(type='cpu')
    """
    for module in modules:
        for parameter in module.parameters():
            return parameter.device
    return torch.device("cpu")


def rows_with_ids(rows: Rows) -> List[dict]:
    """Turns ``{ID: row}`` or rows with an ``ID`` column into a list of dicts.

    Arguments
    ---------
    rows : mapping or sequence of mappings
        Rows by ID (a SpeechBrain data manifest), or rows with an ``ID``.

    Returns
    -------
    list of dict
        Copies of the rows, each with its ``ID``, in order.

    Raises
    ------
    ValueError
        When a row of a sequence has no ``ID``.

    Example
    -------
    >>> rows_with_ids({"a": {"wav": "a.flac"}})
    [{'ID': 'a', 'wav': 'a.flac'}]
    """
    if isinstance(rows, Mapping):
        return [{"ID": key, **row} for key, row in rows.items()]
    result = []
    for number, row in enumerate(rows):
        if "ID" not in row:
            raise ValueError(f"row {number} has no 'ID' column")
        result.append(dict(row))
    return result


def load_audio_batch(rows, sample_rate, max_samples, device):
    """Reads the rows' audio into a padded batch and its relative lengths.

    Arguments
    ---------
    rows : sequence of dict
        Rows with ``ID`` and ``wav`` (a mono audio file at ``sample_rate``).
    sample_rate : int
        The expected sample rate.
    max_samples : int or None
        Samples read from the start of each file; None reads all.
    device : torch.device or str
        Where the batch goes.

    Returns
    -------
    wavs : torch.Tensor
        The waveforms, float32, right-padded with zeros, ``[B, S]``.
    lens : torch.Tensor
        Their relative lengths, ``[B]``.

    Raises
    ------
    ValueError
        For a file that is unreadable, empty, not mono or at another rate.

    Example
    -------
    >>> path = getfixture("tmp_path") / "a.wav"
    >>> sf.write(path, [0.1] * 8, 16000)
    >>> rows = [{"ID": "a", "wav": path}, {"ID": "b", "wav": path}]
    >>> wavs, lens = load_audio_batch(rows, 16000, 4, "cpu")
    >>> wavs.shape, lens.tolist()
    (torch.Size([2, 4]), [1.0, 1.0])
    """
    signals = []
    for row in rows:
        path = str(row["wav"])
        try:
            info = sf.info(path)
        except (OSError, RuntimeError) as error:
            raise ValueError(
                f"cannot read audio of {row['ID']!r}: {path} ({error})"
            ) from error
        if info.samplerate != sample_rate or info.channels != 1:
            raise ValueError(
                f"{path} (row {row['ID']!r}) is {info.samplerate} Hz with "
                f"{info.channels} channel(s); expected {sample_rate} Hz mono"
            )
        frames = -1 if max_samples is None else max_samples
        audio = sf.read(path, frames=frames, dtype="float32")[0]
        if len(audio) == 0:
            raise ValueError(f"{path} (row {row['ID']!r}) holds no samples")
        signals.append(torch.from_numpy(audio))
    wavs, lens = batch_pad_right(signals)
    return wavs.to(device), lens.to(device)
