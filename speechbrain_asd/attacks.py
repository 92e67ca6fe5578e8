"""Adversarial examples on waveforms: the paper's BIM (AEG) and score attacks.

``bim_attack`` is the basic iterative method of Algorithm 1 of "Training
strategies for a lightweight countermeasure model for automatic speaker
verification" (Liao et al., ICASSP 2023), batched: a same-speaker utterance
W2 is perturbed by signed-gradient steps on the cosine similarity between
its embedding and the embedding of another utterance W1 of the speaker, and
kept as an adversarial example according to a threshold on that similarity.
``generate_adversarial_set`` runs it over a list of pairs and writes the
kept waveforms with a manifest (static AEG calls it once with the GE2E
model, active AEG before every epoch with the current model);
``make_same_speaker_pairs`` draws the pairs.

``score_attack`` is the white-box attack of the robustness evaluation
(BIM/PGD in an L-infinity ball on the waveform): it pushes a
countermeasure's bona fide score up, so that spoofs get accepted.
``WaveformScorer`` gives it a countermeasure's score from the waveform
through the same features and model as inference, and
``score_under_attack`` runs it over a list of utterances at several
budgets, scoring the perturbed waveforms with the attacked model
(white-box) and with others (transfer).

Models enter as callables, so that no particular lobe is assumed:
``embed_fn(wavs, lens) -> [B, D]`` and ``score_fn(wavs, lens) -> [B]`` take
padded waveforms ``[B, S]`` and relative lengths ``[B]`` (features are
computed inside them). Steps and bounds are given in a sample scale:
``sample_scale = 32768`` (the default) means int16 units on [-1, 1] float
audio, so the paper's ``alpha = 3.0`` moves each sample by about 9.2e-5.

Gradients are taken with ``torch.autograd.grad`` with respect to the
perturbation only, so parameter ``.grad`` is never touched, inside
``torch.enable_grad()`` so that the attacks also run within a ``no_grad``
evaluation; the model is put in eval mode for the attack (no dropout, no
batch-norm statistics update) and every submodule's mode is restored after.

Authors
 * speechbrain-asd developers
"""

import contextlib
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import (
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from speechbrain.utils.data_utils import batch_pad_right
from speechbrain.utils.logger import get_logger
from tqdm import tqdm

from speechbrain_asd.atomic import atomic_output, write_csv_atomic
from speechbrain_asd.checks import (
    check_choice,
    check_int,
    check_number,
    check_positive,
)
from speechbrain_asd.data.asvspoof import CM_HEADER, class_label
from speechbrain_asd.lobes.score import bonafide_score

logger = get_logger(__name__)

SAMPLE_SCALE = 32768.0
ADVERSARIAL_SYSTEM = "adversarial"
ADVERSARIAL_KEY = "spoof"
ADVERSARIAL_LABEL = class_label(ADVERSARIAL_SYSTEM)
BONAFIDE_KEY = "bonafide"
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


@dataclass
class AEGStats:
    """Summary of one ``generate_adversarial_set`` run.

    Arguments
    ---------
    tried : int
        Pairs attacked.
    kept : int
        Adversarial examples that passed the filter and were written.
    mean_similarity : float
        Mean final cosine similarity over all pairs tried.
    mean_initial_similarity : float
        Mean cosine similarity before the attack over all pairs tried.
    manifest : str
        Path of the manifest written.

    Example
    -------
    >>> AEGStats(10, 4, 0.35, 0.3, "adv.csv").kept
    4
    """

    tried: int
    kept: int
    mean_similarity: float
    mean_initial_similarity: float
    manifest: str


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
    """Runs the paper's basic iterative method (Algorithm 1) on a batch.

    For each pair (W1 = reference, W2 = attacked waveform, same speaker):
    X1 = emb(W1); D = 0; ``iterations`` times: s = cos(X1, emb(W2 + D)),
    D = clip(D + alpha * sign(grad_D s), -epsilon, epsilon), with W2 + D
    kept within [-1, 1] and D zero on padding; finally s is computed for
    W2 + D and the example passes the filter according to ``keep``.

    The paper is inconsistent about the filter: its text says "only the
    new example with s smaller than threshold will be used", while line 10
    of Algorithm 1 discards examples with s <= threshold, i.e. keeps those
    above. The default, ``keep="below"`` (s < threshold), follows the
    text: it is the rule the authors state in words as their design, and it
    keeps the examples whose embedding stays far from the speaker's other
    utterance although the attack pulled it closer, the ones the current
    model finds hardest to tie to their speaker. ``keep="above"``
    (s > threshold) reproduces the pseudo-code. Which fraction passes
    depends on the model: report it (``generate_adversarial_set`` does).

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
        ``"below"`` keeps s < threshold (the paper's text), ``"above"``
        keeps s > threshold (its pseudo-code).
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
    _check_steps(alpha, iterations, epsilon, sample_scale)
    _check_batch("reference_wavs", reference_wavs, reference_lens)
    _check_batch("wavs", wavs, lens)
    if len(reference_wavs) != len(wavs):
        raise ValueError(
            f"reference_wavs has {len(reference_wavs)} waveforms but wavs "
            f"has {len(wavs)}: BIM needs one reference per attacked waveform"
        )
    modules = _modules_of(embed_fn, model)
    with _eval_mode(modules), torch.no_grad():
        reference = embed_fn(reference_wavs, reference_lens)
    if reference.dim() != 2 or len(reference) != len(wavs):
        raise ValueError(
            f"embed_fn must return [B, D] embeddings, got shape "
            f"{tuple(reference.shape)} for B = {len(wavs)}"
        )

    def similarity(perturbed):
        """Cosine similarity of the perturbed batch to the references.

        Arguments
        ---------
        perturbed : torch.Tensor
            W2 + D, ``[B, S2]``.

        Returns
        -------
        torch.Tensor
            ``[B]`` similarities.
        """
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
    padding: spoofed inputs are pushed to look bona fide. Each waveform
    gets the iterate of highest score (D = 0 included, so its score never
    drops), the attacker's best try within the budget, as the last step
    may overshoot. Same units and gradient hygiene as ``bim_attack``; with
    ``alpha`` and ``epsilon`` whole numbers of int16 units, every sample
    moves by a whole number of int16 steps (but at the clip to [-1, 1]).
    ``score_under_attack`` runs it over a set of utterances.

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
    _check_steps(alpha, iterations, epsilon, sample_scale)
    _check_batch("wavs", wavs, lens)

    def score(perturbed):
        """Bona fide score of the perturbed batch.

        Arguments
        ---------
        perturbed : torch.Tensor
            Perturbed waveforms, ``[B, S]``.

        Returns
        -------
        torch.Tensor
            ``[B]`` scores.
        """
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
        _modules_of(score_fn, model),
        keep_best=True,
    )
    return ScoreAttackResult(adversarial, before, after)


class WaveformScorer(torch.nn.Module):
    """A countermeasure's bona fide score as a function of the waveform.

    Chains the feature extractor and the model as inference does
    (``SpoofDetector``: features with exact frame lengths, the model's
    logits, their bona fide log-odds), with gradients flowing back to the
    waveform: the ``score_fn`` of ``score_attack``.

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

    The rows are read in batches of ``batch_size``, in the order given
    (sort them by duration to limit padding), whole or cut to their first
    ``max_duration`` seconds, and each batch is scored at every budget:
    budget 0 is the clean waveform; a budget epsilon > 0 is the output of
    ``score_attack`` against ``scorers[attacked]`` with that L-infinity
    bound, ``iterations`` steps of ``alpha = step_ratio * epsilon`` (both
    in ``sample_scale`` units, so int16 units by default). Every scorer
    scores the perturbed waveforms: the attacked one is the white-box
    case, the others the transfer case (examples crafted on one model,
    scored by another). Scorers that are modules are kept in eval mode,
    their modes restored after. The same scorers, rows and arguments give
    the same scores.

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
    rows = _as_rows(rows)
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
    check_int("batch_size", batch_size, minimum=1)
    if max_duration is not None:
        check_positive("max_duration", max_duration)
    modules = {name: _modules_of(fn, None) for name, fn in scorers.items()}
    every_module = [m for group in modules.values() for m in group]
    if device is None:
        device = _device_of(every_module)
    max_samples = (
        None if max_duration is None else int(round(max_duration * sample_rate))
    )
    scores = {b: {name: {} for name in scorers} for b in budgets}
    with (
        _eval_mode(every_module),
        tqdm(
            total=len(rows), desc="scoring", unit="utt", disable=not progress
        ) as bar,
    ):
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            wavs, lens = _load_batch(chunk, sample_rate, max_samples, device)
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


def make_same_speaker_pairs(
    rows: Rows, n_pairs: int, seed: int = 0
) -> List[Tuple[dict, dict]]:
    """Draws distinct (reference, target) pairs of same-speaker bona fide rows.

    Only rows whose ``key`` is ``"bonafide"`` are used, and only speakers
    with at least two of them. The ``n_pairs`` pairs are shared out between
    speakers as evenly as their numbers of ordered pairs allow, each pair
    is two distinct utterances, no ordered pair repeats, and the list
    interleaves speakers (so any prefix stays balanced). The result depends
    only on the rows' content and ``seed``, not on their order.

    Arguments
    ---------
    rows : dict or Sequence[dict]
        Manifest rows with ``ID``, ``wav``, ``spk_id`` and ``key``: a list
        of dicts, or a dict ``{ID: row}`` as returned by
        ``speechbrain.dataio.dataio.load_data_csv``.
    n_pairs : int
        Number of pairs to draw.
    seed : int
        Seed of the draw.

    Returns
    -------
    pairs : List[Tuple[dict, dict]]
        ``(reference, target)`` rows (copies, each with its ``ID``):
        ``target`` is the waveform to perturb.

    Example
    -------
    >>> rows = [
    ...     {"ID": f"u{i}", "wav": f"u{i}.flac", "spk_id": f"s{i % 2}",
    ...      "key": "bonafide"}
    ...     for i in range(6)
    ... ]
    >>> pairs = make_same_speaker_pairs(rows, 4, seed=1)
    >>> [(ref["spk_id"], tgt["spk_id"]) for ref, tgt in pairs]
    [('s0', 's0'), ('s1', 's1'), ('s0', 's0'), ('s1', 's1')]
    >>> all(ref["ID"] != tgt["ID"] for ref, tgt in pairs)
    True
    """
    n_pairs = check_int("n_pairs", n_pairs, minimum=1)
    by_speaker = {}
    for row in _as_rows(rows):
        for column in ("spk_id", "key"):
            if column not in row:
                raise ValueError(f"row {row['ID']!r} has no {column!r} column")
        if row["key"] == BONAFIDE_KEY:
            by_speaker.setdefault(row["spk_id"], []).append(row)
    speakers = sorted(
        (s for s in by_speaker if len(by_speaker[s]) > 1), key=str
    )
    capacity = {
        s: len(by_speaker[s]) * (len(by_speaker[s]) - 1) for s in speakers
    }
    if n_pairs > sum(capacity.values()):
        raise ValueError(
            f"n_pairs={n_pairs} exceeds the {sum(capacity.values())} distinct "
            f"same-speaker bona fide pairs available "
            f"({len(speakers)} speaker(s) with at least two)"
        )
    rng = np.random.default_rng(seed)
    order = [speakers[i] for i in rng.permutation(len(speakers))]
    quota, assigned = dict.fromkeys(order, 0), 0
    while assigned < n_pairs:
        for speaker in order:
            if assigned < n_pairs and quota[speaker] < capacity[speaker]:
                quota[speaker] += 1
                assigned += 1
    drawn = {}
    for speaker in order:
        utts = sorted(by_speaker[speaker], key=lambda row: row["ID"])
        n = len(utts)
        codes = rng.choice(capacity[speaker], quota[speaker], replace=False)
        drawn[speaker] = [
            (utts[c // (n - 1)], utts[_other_index(c, n)]) for c in codes
        ]
    pairs = []
    for rank in range(max(quota.values())):
        for speaker in order:
            if rank < quota[speaker]:
                ref, tgt = drawn[speaker][rank]
                pairs.append((dict(ref), dict(tgt)))
    return pairs


def generate_adversarial_set(
    embed_fn: Callable,
    pairs: Sequence[Tuple[Mapping, Mapping]],
    output_dir,
    manifest_path,
    alpha: float = 3.0,
    iterations: int = 5,
    threshold: float = 0.4,
    epsilon: Optional[float] = None,
    keep: str = "below",
    sample_scale: float = SAMPLE_SCALE,
    batch_size: int = 8,
    max_duration: Optional[float] = None,
    sample_rate: int = 16000,
    device=None,
    model=None,
    progress: bool = True,
) -> AEGStats:
    """Runs BIM over pairs and writes the kept examples with a manifest.

    The set-level step of static AEG (once, with the GE2E model) and of
    active AEG (before every epoch, with the current model). Pairs are
    attacked in batches of ``batch_size``; each target waveform W2 that
    passes the filter is written as a 16-bit FLAC
    ``<output_dir>/<ID>.flac`` with ``ID = "<target ID>_adv_<reference
    ID>"``, and the manifest lists them with the columns of the ASVspoof
    manifests: ``ID,duration,wav,spk_id,system,key,label`` (system
    ``adversarial``, key ``spoof``, label 7) and absolute ``wav`` paths.
    Files and manifest are written to a temporary name and renamed, so no
    half-written file is left; a pair's stale FLAC from an earlier run is
    removed when the pair is not kept this time. The same model, pairs and
    arguments give the same files. The 16-bit FLAC rounds samples to the
    nearest int16 step: the similarity reported is that of the float
    example before writing.

    Arguments
    ---------
    embed_fn : Callable
        ``embed_fn(wavs [B, S], lens [B]) -> [B, D]`` embeddings.
    pairs : Sequence[Tuple[dict, dict]]
        ``(reference, target)`` rows with ``ID``, ``wav`` and ``spk_id``,
        e.g. from ``make_same_speaker_pairs``.
    output_dir : str or pathlib.Path
        Folder of the FLAC files (created if missing).
    manifest_path : str or pathlib.Path
        CSV manifest to write (its folder is created if missing).
    alpha : float
        BIM step in ``sample_scale`` units (paper: 3.0).
    iterations : int
        BIM iterations (paper: 5).
    threshold : float
        Similarity threshold of the filter (paper: 0.4).
    epsilon : float, optional
        L-infinity bound in ``sample_scale`` units; default
        ``alpha * iterations``.
    keep : str
        ``"below"`` (paper's text) or ``"above"`` (its pseudo-code); see
        ``bim_attack``.
    sample_scale : float
        Waveform value that ``alpha`` and ``epsilon`` units map to 1.
    batch_size : int
        Pairs per batch.
    max_duration : float, optional
        Only the first ``max_duration`` seconds of each file are read and
        attacked; default: whole files.
    sample_rate : int
        Sample rate every file must have, and of the written files.
    device : str or torch.device, optional
        Device of the waveforms; default: that of the model's first
        parameter, else the CPU.
    model : torch.nn.Module or list of them, optional
        Modules put in eval mode during the attack; see ``bim_attack``.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    stats : AEGStats
        Pairs tried, examples kept, mean similarities, manifest path.

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> rng = np.random.default_rng(0)
    >>> rows = []
    >>> for i in range(4):
    ...     path = tmp / f"u{i}.flac"
    ...     sf.write(path, 0.1 * rng.standard_normal(1600), 16000)
    ...     rows.append({"ID": f"u{i}", "wav": str(path),
    ...                  "spk_id": f"s{i % 2}", "key": "bonafide"})
    >>> pairs = make_same_speaker_pairs(rows, 2)
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Conv1d(1, 4, 160, stride=80)
    >>> embed = lambda wavs, lens: net(wavs[:, None]).mean(-1)
    >>> stats = generate_adversarial_set(
    ...     embed, pairs, tmp / "adv", tmp / "adv.csv", threshold=2.0,
    ...     model=net, progress=False,
    ... )
    >>> stats.tried, stats.kept
    (2, 2)
    >>> (tmp / "adv.csv").read_text().splitlines()[0]
    'ID,duration,wav,spk_id,system,key,label'
    """
    if not pairs:
        raise ValueError("pairs is empty: nothing to attack")
    check_int("batch_size", batch_size, minimum=1)
    if max_duration is not None:
        check_positive("max_duration", max_duration)
    check_choice("keep", keep, KEEP_RULES)
    _check_steps(alpha, iterations, epsilon, sample_scale)
    ids = [_pair_id(ref, tgt) for ref, tgt in pairs]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"pairs repeat, giving duplicate IDs: {repeated[:5]}")
    modules = _modules_of(embed_fn, model)
    if device is None:
        device = _device_of(modules)
    max_samples = (
        None if max_duration is None else int(round(max_duration * sample_rate))
    )
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    manifest_rows, similarities, initial = [], [], []
    with tqdm(
        total=len(pairs), desc="AEG", unit="pair", disable=not progress
    ) as bar:
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            refs, ref_lens = _load_batch(
                [ref for ref, _ in chunk], sample_rate, max_samples, device
            )
            tgts, tgt_lens = _load_batch(
                [tgt for _, tgt in chunk], sample_rate, max_samples, device
            )
            result = bim_attack(
                embed_fn,
                refs,
                ref_lens,
                tgts,
                tgt_lens,
                alpha=alpha,
                iterations=iterations,
                threshold=threshold,
                epsilon=epsilon,
                keep=keep,
                sample_scale=sample_scale,
                model=modules,
            )
            similarities.extend(result.similarity.tolist())
            initial.extend(result.initial_similarity.tolist())
            n_samples = torch.round(tgt_lens * tgts.shape[1]).long().tolist()
            for i, (_, tgt) in enumerate(chunk):
                utt_id = ids[start + i]
                path = output_dir / f"{utt_id}.flac"
                if not result.keep[i]:
                    path.unlink(missing_ok=True)
                    continue
                audio = result.adversarial[i, : n_samples[i]].cpu().numpy()
                _write_flac(path, audio, sample_rate)
                manifest_rows.append(
                    {
                        "ID": utt_id,
                        "duration": round(n_samples[i] / sample_rate, 5),
                        "wav": str(path),
                        "spk_id": tgt["spk_id"],
                        "system": ADVERSARIAL_SYSTEM,
                        "key": ADVERSARIAL_KEY,
                        "label": ADVERSARIAL_LABEL,
                    }
                )
            bar.set_postfix(kept=len(manifest_rows))
            bar.update(len(chunk))
    _write_manifest(manifest_path, manifest_rows)
    stats = AEGStats(
        tried=len(pairs),
        kept=len(manifest_rows),
        mean_similarity=float(np.mean(similarities)),
        mean_initial_similarity=float(np.mean(initial)),
        manifest=str(manifest_path),
    )
    logger.info(
        "AEG: kept %d of %d pairs (keep %s %.3f); mean similarity %.4f "
        "(before the attack %.4f)",
        stats.kept,
        stats.tried,
        keep,
        threshold,
        stats.mean_similarity,
        stats.mean_initial_similarity,
    )
    return stats


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
    """Maximises ``objective(wavs + D)`` by bounded signed-gradient steps.

    Arguments
    ---------
    objective : Callable
        Maps perturbed waveforms ``[B, S]`` to values ``[B]`` to maximise.
    wavs : torch.Tensor
        Padded waveforms ``[B, S]``.
    lens : torch.Tensor
        Relative lengths ``[B]``: D stays zero beyond them.
    alpha : float
        Step in ``sample_scale`` units.
    iterations : int
        Number of steps.
    epsilon : float or None
        L-infinity bound in ``sample_scale`` units (None: alpha *
        iterations).
    sample_scale : float
        Waveform value of one unit of alpha and epsilon.
    modules : list of torch.nn.Module
        Kept in eval mode during the attack.
    keep_best : bool
        Return, for each waveform, the D of highest objective among all
        iterates (D = 0 included) instead of the last one.

    Returns
    -------
    adversarial : torch.Tensor
        ``wavs + D``, detached.
    before : torch.Tensor
        Objective at D = 0.
    after : torch.Tensor
        Objective at the D returned.
    """
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
    """Keeps, per waveform, the perturbation with the higher objective.

    Arguments
    ---------
    best : torch.Tensor
        Objective of the perturbations kept so far, ``[B]``.
    best_delta : torch.Tensor
        Those perturbations, ``[B, S]``.
    values : torch.Tensor
        Objective of the new perturbations, ``[B]``.
    delta : torch.Tensor
        The new perturbations, ``[B, S]``.

    Returns
    -------
    best : torch.Tensor
        The higher objective of each waveform (the kept one on ties).
    best_delta : torch.Tensor
        The perturbation that reaches it.
    """
    higher = values > best
    best_delta = torch.where(higher.unsqueeze(1), delta, best_delta)
    return torch.where(higher, values, best), best_delta


def _check_steps(alpha, iterations, epsilon, sample_scale):
    """Checks the step, iteration count, bound and scale of an attack.

    Arguments
    ---------
    alpha : float
        Must be > 0.
    iterations : int
        Must be an integer >= 1.
    epsilon : float or None
        Must be > 0 when given.
    sample_scale : float
        Must be > 0.
    """
    check_int("iterations", iterations, minimum=1)
    check_positive("alpha", alpha)
    check_positive("sample_scale", sample_scale)
    if epsilon is not None and not (
        isinstance(epsilon, (int, float)) and 0 < epsilon < math.inf
    ):
        raise ValueError(f"epsilon must be a number > 0, got {epsilon!r}")


def _check_batch(name, wavs, lens):
    """Checks a padded waveform batch and its relative lengths.

    Arguments
    ---------
    name : str
        The waveform argument's name, for the message.
    wavs : torch.Tensor
        Must be ``[B, S]`` floating point, B >= 1.
    lens : torch.Tensor
        Must be ``[B]`` with values in (0, 1].
    """
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


def _modules_of(fn, model) -> List[torch.nn.Module]:
    """Lists the modules whose train/eval mode an attack must manage.

    Arguments
    ---------
    fn : Callable
        The attacked callable.
    model : torch.nn.Module, list of them, or None
        Modules given explicitly.

    Returns
    -------
    modules : List[torch.nn.Module]
        ``model`` as a list; else ``fn`` if it is a module, or the module
        it is a bound method of; else nothing.
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
    """Puts modules in eval mode, restoring every submodule's mode after.

    Arguments
    ---------
    modules : List[torch.nn.Module]
        The modules.

    Yields
    ------
    None
        Control, with the modules in eval mode.
    """
    saved = [(m, m.training) for top in modules for m in top.modules()]
    try:
        for top in modules:
            top.eval()
        yield
    finally:
        for module, training in saved:
            module.training = training


def _device_of(modules):
    """Device of the first parameter of the given modules.

    Arguments
    ---------
    modules : List[torch.nn.Module]
        The modules.

    Returns
    -------
    device : torch.device
        That device, or the CPU when there is no parameter.
    """
    for module in modules:
        for parameter in module.parameters():
            return parameter.device
    return torch.device("cpu")


def _as_rows(rows: Rows) -> List[dict]:
    """Turns manifest data into a list of row dicts that carry their ID.

    Arguments
    ---------
    rows : dict or Sequence[dict]
        ``{ID: row}`` or rows with an ``ID`` column.

    Returns
    -------
    rows : List[dict]
        Row dicts, each with ``ID``.
    """
    if isinstance(rows, Mapping):
        return [{"ID": key, **row} for key, row in rows.items()]
    result = []
    for number, row in enumerate(rows):
        if "ID" not in row:
            raise ValueError(f"row {number} has no 'ID' column")
        result.append(dict(row))
    return result


def _other_index(code, n):
    """Second index of the ordered pair numbered ``code`` among n items.

    Ordered pairs (i, j), i != j, are numbered ``i * (n - 1) + r`` where
    ``r`` counts the j's other than i.

    Arguments
    ---------
    code : int
        The pair's number, in ``[0, n * (n - 1))``.
    n : int
        Number of items.

    Returns
    -------
    j : int
        The second index.
    """
    i, r = divmod(int(code), n - 1)
    return r if r < i else r + 1


def _pair_id(reference, target) -> str:
    """ID of the adversarial example made from a pair.

    Arguments
    ---------
    reference : dict
        Row of W1.
    target : dict
        Row of W2, the perturbed waveform.

    Returns
    -------
    utt_id : str
        ``"<target ID>_adv_<reference ID>"``.
    """
    for row in (reference, target):
        for column in ("ID", "wav", "spk_id"):
            if column not in row:
                raise ValueError(f"pair row {row!r} has no {column!r} column")
        if any(sep in str(row["ID"]) for sep in ("/", "\\")):
            raise ValueError(f"ID {row['ID']!r} cannot name a file")
    if reference["spk_id"] != target["spk_id"]:
        raise ValueError(
            f"pair ({reference['ID']}, {target['ID']}) mixes speakers "
            f"{reference['spk_id']!r} and {target['spk_id']!r}"
        )
    return f"{target['ID']}_adv_{reference['ID']}"


def _load_batch(rows, sample_rate, max_samples, device):
    """Reads the rows' audio into a padded batch.

    Arguments
    ---------
    rows : List[dict]
        Rows with ``ID`` and ``wav``.
    sample_rate : int
        Required sample rate.
    max_samples : int or None
        Read at most this many samples from the start of each file.
    device : torch.device
        Device of the batch.

    Returns
    -------
    wavs : torch.Tensor
        Padded float32 waveforms ``[B, S]``.
    lens : torch.Tensor
        Relative lengths ``[B]``.
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


def _write_flac(path, audio, sample_rate):
    """Writes a 16-bit FLAC atomically (temporary file, then rename).

    Arguments
    ---------
    path : pathlib.Path
        Destination.
    audio : numpy.ndarray
        Mono float samples in [-1, 1].
    sample_rate : int
        Sample rate.
    """
    with atomic_output(path) as tmp:
        sf.write(tmp, audio, sample_rate, format="FLAC", subtype="PCM_16")


def _write_manifest(path, rows):
    """Writes the adversarial manifest CSV atomically.

    Arguments
    ---------
    path : str or pathlib.Path
        Destination CSV.
    rows : List[dict]
        Rows with the ASVspoof manifest columns (``CM_HEADER``).
    """
    write_csv_atomic(path, CM_HEADER, rows)
