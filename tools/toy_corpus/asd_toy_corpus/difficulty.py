"""How hard a corpus is for a trivial countermeasure.

A logistic regression on the per-utterance mean and standard deviation of
40 log-Mel bands, trained on one split and scored on another, measures how
much the average spectrum and its spread alone reveal the class. A corpus
where this gives a low EER can be solved without looking at artefacts.

Authors
 * speechbrain-asd developers
"""

import numpy as np
import soundfile as sf

from asd_toy_corpus.dsp import EPS, mel_filterbank, stft
from asd_toy_corpus.layout import cm_protocol_path
from speechbrain_asd.metrics import compute_eer
from speechbrain_asd.scorefiles import read_cm_protocol

N_MELS = 40
N_FFT = 512
HOP = 160


def logmel_stats(wave, sr=16000, n_mels=N_MELS):
    """Mean and standard deviation over time of log-Mel energies.

    Arguments
    ---------
    wave : numpy.ndarray
        The waveform, 1-D.
    sr : int
        Its sample rate.
    n_mels : int
        Number of Mel bands.

    Returns
    -------
    numpy.ndarray
        ``2 * n_mels`` values: the means, then the standard deviations.

    Example
    -------
    >>> x = np.random.default_rng(0).standard_normal(16000)
    >>> logmel_stats(x).shape
    (80,)
    """
    power = np.abs(stft(np.asarray(wave, dtype=np.float64), N_FFT, HOP)) ** 2
    log_mel = np.log(power @ mel_filterbank(n_mels, N_FFT, sr).T + EPS)
    return np.concatenate([log_mel.mean(axis=0), log_mel.std(axis=0)])


def _split_features(root, split):
    """Log-Mel statistics of every trial of a split's CM protocol.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder (holding ``LA/``).
    split : str
        ``"train"``, ``"dev"`` or ``"eval"``.

    Returns
    -------
    features : numpy.ndarray
        ``[trials, 80]``.
    labels : numpy.ndarray
        1 for bona fide, 0 for spoof.
    attacks : list of str
        The attack of each trial (``"bonafide"`` for bona fide).

    """
    trials = read_cm_protocol(cm_protocol_path(root, split))
    folder = f"{root}/LA/ASVspoof2019_LA_{split}/flac"
    features = []
    for trial in trials:
        wave, sr = sf.read(f"{folder}/{trial.trial}.flac", dtype="float64")
        features.append(logmel_stats(wave, sr))
    labels = np.array([t.key == "bonafide" for t in trials], dtype=np.float64)
    return np.stack(features), labels, [t.attack for t in trials]


def fit_logistic_regression(features, labels, l2=1e-2, iterations=30):
    """Fits a class-balanced, L2-regularised logistic regression (Newton).

    Features are standardised with the training mean and deviation.

    Arguments
    ---------
    features : numpy.ndarray
        ``[n, d]`` training features.
    labels : numpy.ndarray
        ``[n]`` labels in {0, 1}.
    l2 : float
        Weight of the L2 penalty on the weights (not the bias).
    iterations : int
        Newton steps.

    Returns
    -------
    callable
        ``score(features) -> numpy.ndarray``, the decision value (higher
        means class 1).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate(
    ...     [rng.normal(-2, 1, (50, 2)), rng.normal(2, 1, (50, 2))]
    ... )
    >>> y = np.repeat([0.0, 1.0], 50)
    >>> score = fit_logistic_regression(x, y)
    >>> float(np.mean((score(x) > 0) == y)) > 0.95
    True
    """
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + EPS
    x = np.hstack([(features - mean) / scale, np.ones((len(features), 1))])
    positives = max(labels.sum(), 1.0)
    negatives = max(len(labels) - labels.sum(), 1.0)
    sample_weight = np.where(labels > 0.5, 0.5 / positives, 0.5 / negatives)
    penalty = np.full(x.shape[1], l2)
    penalty[-1] = 0.0
    w = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (sample_weight * (p - labels)) + penalty * w
        hessian = (x.T * (sample_weight * p * (1 - p))) @ x + np.diag(
            penalty + 1e-9
        )
        w -= np.linalg.solve(hessian, gradient)

    def score(new_features):
        """Decision values of the fitted regression.

        Arguments
        ---------
        new_features : numpy.ndarray
            ``[m, d]`` features.

        Returns
        -------
        numpy.ndarray
            ``[m]`` decision values.
        """
        z = (np.asarray(new_features) - mean) / scale
        return z @ w[:-1] + w[-1]

    return score


def lr_eers(train, evaluation):
    """Trains the regression on one set of features and scores another.

    Arguments
    ---------
    train : tuple
        ``(features, labels)`` to train on (labels 1 = bona fide).
    evaluation : tuple
        ``(features, labels, attacks)`` to score.

    Returns
    -------
    dict
        ``pooled_eer`` (fraction), ``per_attack_eer`` (system id -> EER of
        bona fide against that attack), ``train_trials``, ``eval_trials``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(40, 3))
    >>> y = np.repeat([1.0, 0.0], 20)
    >>> x[y > 0, 0] += 3.0
    >>> attacks = ["bonafide"] * 20 + ["A01", "A02"] * 10
    >>> result = lr_eers((x, y), (x, y, attacks))
    >>> sorted(result["per_attack_eer"]), result["pooled_eer"] < 0.2
    (['A01', 'A02'], True)
    """
    features, labels, attacks = evaluation
    scores = fit_logistic_regression(*train)(features)
    attacks = np.asarray(attacks)
    bonafide = scores[labels > 0.5]
    pooled, _ = compute_eer(bonafide, scores[labels < 0.5])
    per_attack = {
        attack: float(compute_eer(bonafide, scores[attacks == attack])[0])
        for attack in sorted(set(attacks[labels < 0.5].tolist()))
    }
    return {
        "pooled_eer": float(pooled),
        "per_attack_eer": per_attack,
        "train_trials": int(len(train[1])),
        "eval_trials": int(len(labels)),
    }


def lr_difficulty(root, train_split="train", eval_split="eval"):
    """EERs of a log-Mel statistics logistic regression on a corpus.

    Arguments
    ---------
    root : str or os.PathLike
        The corpus folder (holding ``LA/``).
    train_split : str
        Split to train on.
    eval_split : str
        Split to score.

    Returns
    -------
    dict
        As ``lr_eers``.

    Raises
    ------
    FileNotFoundError
        When a protocol or audio file is missing.

    Example
    -------
    >>> lr_difficulty("/nowhere")
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...
    """
    train_x, train_y, _ = _split_features(root, train_split)
    return lr_eers((train_x, train_y), _split_features(root, eval_split))
