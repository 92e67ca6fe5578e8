"""Packages the speaker encoder of a speaker stage of the recipe as a verifier
folder that ``SpeakerVerifier`` loads.

Three stages train the encoder a verifier folder holds as its ``model``:
GE2E (``train_ge2e.py``), SEEF-ALDR (``train_seef_aldr.py``: its purifying
encoder E_p, the verification embedding with ``verify_with: purifying``)
and speaker KD (``train_speaker_kd.py``: the student). None writes a
``model_info.json``; their output folders hold what is read here: the
resolved ``hyperparams.yaml`` (SpeechBrain's copy of the stage's YAML, read
as data: its ``compute_features`` and ``model`` entries, no object built
from it), the checkpoints ``save/CKPT+*`` with their ``dev_speaker_eer``,
and the dev ASV scores of the best checkpoint (``asv_scores/``), whose dev
EER threshold becomes the verifier's decision threshold. The checkpoint the
scores come from is named by ``asv_scores/asv_scores.json`` (GE2E) or
``asv_report.json`` (SEEF-ALDR, speaker KD).

Authors
 * speechbrain-asd developers
"""

import json
import math
from pathlib import Path

import torch
import yaml
from speechbrain.utils.logger import get_logger

from speechbrain_asd.checkpoints import (
    MODEL_RECOVERABLE,
    best_checkpoint,
    load_checkpoint,
)
from speechbrain_asd.checks import check_number
from speechbrain_asd.export import card_provenance, write_folder_staged
from speechbrain_asd.lobes.complexity import count_parameters
from speechbrain_asd.lobes.resnet_se import ResNetSE, g_resnet_se, l_resnet_se
from speechbrain_asd.metrics import compute_eer
from speechbrain_asd.model_folder import (
    CHECKPOINT_FILE,
    FEATURES_CLASS,
    HPARAMS_FILE,
    MODEL_CLASS,
    ExportError,
    folder_hyperparams_text,
)
from speechbrain_asd.scorefiles import read_asv_scores
from speechbrain_asd.verification import (
    DEFAULT_MIN_SECONDS,
    DEFAULT_SAMPLE_RATE,
    SpeakerVerifier,
)

logger = get_logger(__name__)

MIN_KEY = "dev_speaker_eer"
ASV_SCORE_FOLDER = "asv_scores"
ASV_SUMMARY_FILE = "asv_scores.json"
ASV_REPORT_FILE = "asv_report.json"
DEV_ASV_SCORE_FILE = "ASVspoof2019.LA.asv.dev.gi.trl.scores.txt"
CARD_JSON_FILE = "model_card.json"
# The SEEF-ALDR stage's choice of verification embedding; a verifier folder
# holds E_p (its ``model``), the purifying one.
VERIFY_WITH_KEY = "verify_with"
VERIFY_WITH_MODEL = "purifying"

# The tags of the stage's ``model`` entry this module can rebuild.
ENCODER_BUILDERS = {
    "!apply:speechbrain_asd.lobes.resnet_se.g_resnet_se": g_resnet_se,
    "!apply:speechbrain_asd.lobes.resnet_se.l_resnet_se": l_resnet_se,
    f"!new:{MODEL_CLASS}": ResNetSE,
}


class _StageValue:
    """An object a stage's YAML would build: its tag and arguments, inert."""

    def __init__(self, tag, value):
        """Stores the tag and the arguments."""
        self.tag = tag
        self.value = value


class _StageLoader(yaml.SafeLoader):
    """PyYAML's safe loader; ``!`` tags give ``_StageValue``s, run nothing."""


def _stage_value(loader, suffix, node):
    """Constructs a tagged node as a ``_StageValue``."""
    if isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    return _StageValue(f"!{suffix}", value)


_StageLoader.add_multi_constructor("!", _stage_value)


def read_stage_hyperparams(path):
    """Reads the encoder a speaker stage trained from its resolved YAML.

    Arguments
    ---------
    path : str or os.PathLike
        The stage's ``hyperparams.yaml`` (SpeechBrain's resolved copy).

    Returns
    -------
    info : dict
        ``sample_rate`` (int), ``features`` (keyword arguments of
        ``LogMelFeatures``), ``builder`` (the tag of the model entry) and
        ``model_kwargs`` (its keyword arguments).

    Example
    -------
    >>> path = getfixture("tmp_path") / "hyperparams.yaml"
    >>> _ = path.write_text(
    ...     "sample_rate: 16000\\n"
    ...     "compute_features: !new:speechbrain_asd.features.LogMelFeatures\\n"
    ...     "  n_mels: 40\\n"
    ...     "model: !apply:speechbrain_asd.lobes.resnet_se.g_resnet_se\\n"
    ...     "  blocks: [1, 1, 1, 1]\\n")
    >>> read_stage_hyperparams(path)["model_kwargs"]
    {'blocks': [1, 1, 1, 1]}
    """
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such file (written by the stage)")
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), _StageLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ExportError(
            f"{path}: not a readable YAML file ({error})"
        ) from error
    if not isinstance(document, dict):
        raise ExportError(f"{path}: not a YAML mapping")
    verify_with = document.get(VERIFY_WITH_KEY, VERIFY_WITH_MODEL)
    if verify_with != VERIFY_WITH_MODEL:
        raise ExportError(
            f"{path}: {VERIFY_WITH_KEY} is {verify_with!r}: the stage "
            "verifies with its eliminating encoder E_e, which a verifier "
            f"folder cannot hold (it holds the model entry, E_p: train with "
            f"{VERIFY_WITH_KEY}: {VERIFY_WITH_MODEL})"
        )
    model = document.get("model")
    if not isinstance(model, _StageValue) or model.tag not in ENCODER_BUILDERS:
        raise ExportError(
            f"{path}: its model entry must be one of {sorted(ENCODER_BUILDERS)}"
        )
    features = document.get("compute_features")
    if not isinstance(features, _StageValue) or features.tag != (
        f"!new:{FEATURES_CLASS}"
    ):
        raise ExportError(
            f"{path}: its compute_features entry must be !new:{FEATURES_CLASS}"
        )
    info = {
        "features": _plain_kwargs(features.value, "compute_features", path),
        "builder": model.tag,
        "model_kwargs": _plain_kwargs(model.value, "model", path),
    }
    rate = document.get("sample_rate")
    features_rate = info["features"].get("sample_rate")
    if rate is None:
        rate = DEFAULT_SAMPLE_RATE if features_rate is None else features_rate
    elif features_rate is not None and features_rate != rate:
        raise ExportError(
            f"{path}: sample_rate {rate} differs from compute_features' "
            f"{features_rate}"
        )
    if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
        raise ExportError(f"{path}: sample_rate must be a positive integer")
    info["sample_rate"] = rate
    return info


def build_encoder(info):
    """Builds the ResNetSE a speaker stage trained, without auxiliary exits.

    Arguments
    ---------
    info : dict
        As returned by ``read_stage_hyperparams``.

    Returns
    -------
    model : ResNetSE
        Freshly initialised.

    Example
    -------
    >>> info = {"builder": "!apply:speechbrain_asd.lobes.resnet_se."
    ...         "l_resnet_se", "model_kwargs": {"blocks": [1, 1, 1, 1]}}
    >>> build_encoder(info).config["channels"]
    [16, 32, 64, 128]
    """
    builder = ENCODER_BUILDERS[info["builder"]]
    try:
        return builder(**dict(info["model_kwargs"], aux_exits=False))
    except (TypeError, ValueError) as error:
        raise ExportError(f"model arguments: {error}") from error


def dev_eer_threshold(stage_folder, checkpoint_name):
    """The dev EER threshold of a speaker stage's ASV scores.

    The scores must come from the checkpoint being exported (the stage's
    ``asv_scores/asv_scores.json`` or ``asv_report.json`` names it).

    Arguments
    ---------
    stage_folder : str or os.PathLike
        The stage's output folder.
    checkpoint_name : str
        The name of the exported checkpoint (``CKPT+...``).

    Returns
    -------
    threshold : float or None
        The cosine threshold at the EER of the dev target against
        nontarget trials; None when it cannot be known.
    source : str
        Where it comes from, or why there is none.

    Example
    -------
    >>> dev_eer_threshold(getfixture("tmp_path"), "CKPT+1")[0] is None
    True
    """
    folder = Path(stage_folder) / ASV_SCORE_FOLDER
    summary_path = folder / ASV_SUMMARY_FILE
    if not summary_path.is_file():
        summary_path = Path(stage_folder) / ASV_REPORT_FILE
    scores_path = folder / DEV_ASV_SCORE_FILE
    if not summary_path.is_file() or not scores_path.is_file():
        return None, (
            f"no threshold: {stage_folder} holds no {ASV_SCORE_FOLDER}/"
            f"{ASV_SUMMARY_FILE} or {ASV_REPORT_FILE}, and "
            f"{ASV_SCORE_FOLDER}/{DEV_ASV_SCORE_FILE} (the stage writes them "
            "at its end)"
        )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExportError(
            f"{summary_path}: not a readable JSON file ({error})"
        ) from error
    scored = summary.get("checkpoint") if isinstance(summary, dict) else None
    if scored != checkpoint_name:
        return None, (
            f"no threshold: the dev ASV scores come from {scored}, not from "
            f"the exported {checkpoint_name}"
        )
    asv = read_asv_scores(scores_path)
    if not len(asv.target) or not len(asv.nontarget):
        return None, f"no threshold: {scores_path} lacks target or nontarget"
    eer, threshold = compute_eer(asv.target, asv.nontarget)
    return float(threshold), (
        f"dev EER threshold ({100 * eer:.2f} % EER on {len(asv.target)} "
        f"target and {len(asv.nontarget)} nontarget trials of "
        f"{DEV_ASV_SCORE_FILE})"
    )


def verifier_hyperparams_text(name, info, model_config, threshold, source):
    """Writes the ``hyperparams.yaml`` of a verifier folder.

    The verifier's name, rate, minimum duration and threshold, then what
    ``model_folder.folder_hyperparams_text`` writes (the stage's features,
    the model, a Pretrainer).

    Arguments
    ---------
    name : str
        The model's name.
    info : dict
        From ``read_stage_hyperparams`` (``sample_rate``, ``features``).
    model_config : dict
        Keyword arguments of ``ResNetSE`` (its ``config``).
    threshold : float or None
        The decision threshold on cosine scores.
    source : str
        Where the threshold comes from.

    Returns
    -------
    text : str
        The YAML.

    Example
    -------
    >>> from speechbrain_asd.model_folder import disallowed_tags
    >>> info = {"sample_rate": 16000, "features": {"n_mels": 40}}
    >>> text = verifier_hyperparams_text(
    ...     "ge2e", info, {"n_mels": 40}, 0.5, "given")
    >>> disallowed_tags(text)
    []
    """
    values = {
        "model_name": name,
        "sample_rate": info["sample_rate"],
        "min_seconds": DEFAULT_MIN_SECONDS,
        "asv_threshold": threshold,
        "asv_threshold_source": source,
    }
    header = (
        "# A speechbrain-asd speaker verifier (cosine scores of unit-length\n"
        "# embeddings); load it with\n"
        "# SpeakerVerifier.from_hparams(source=THIS_FOLDER). Written by\n"
        "# speechbrain_asd.verifier_export.export_verifier_folder.\n"
    )
    return folder_hyperparams_text(
        header, values, info["features"], model_config
    )


def export_verifier_folder(
    stage_folder,
    out_dir,
    threshold=None,
    name="speaker_encoder",
    overwrite=False,
):
    """Writes a verifier folder from a speaker stage's output folder.

    Picks the checkpoint with the lowest dev speaker EER, rebuilds the
    stage's encoder (``read_stage_hyperparams``), loads it strictly and
    writes ``hyperparams.yaml``, ``model.ckpt`` and ``model_card.json``.
    The threshold is ``threshold`` when given, else the dev EER threshold
    of the stage's ASV scores (``dev_eer_threshold``), else none. The
    folder is loaded with ``SpeakerVerifier`` and run once before it takes
    the place of ``out_dir``; a failure leaves ``out_dir`` as it was. An
    ``out_dir`` with the same files is kept; a different one is replaced
    only with ``overwrite=True``.

    Arguments
    ---------
    stage_folder : str or os.PathLike
        The output folder of a GE2E, SEEF-ALDR or speaker-KD stage.
    out_dir : str or os.PathLike
        The verifier folder to write.
    threshold : float, optional
        Decision threshold on cosine scores, instead of the dev one.
    name : str
        The model's name.
    overwrite : bool
        Replace an existing, different ``out_dir``.

    Returns
    -------
    out_dir : pathlib.Path
        The verifier folder.

    Example
    -------
    >>> export_verifier_folder("no/such/run", getfixture("tmp_path") / "v")
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ExportError: no/such/run: no such folder
    """
    source_folder = Path(stage_folder)
    out_dir = Path(out_dir)
    if not source_folder.is_dir():
        raise ExportError(f"{stage_folder}: no such folder")
    info = read_stage_hyperparams(source_folder / HPARAMS_FILE)
    checkpoint = best_checkpoint(source_folder / "save", MIN_KEY)
    model = build_encoder(info)
    load_checkpoint(
        model, checkpoint.paramfiles[MODEL_RECOVERABLE], drop_exits=True
    )
    if threshold is not None:
        threshold = check_number("threshold", threshold)
        source = "given at export"
    else:
        threshold, source = dev_eer_threshold(
            source_folder, checkpoint.path.name
        )
        if threshold is None:
            logger.warning("%s: %s", source_folder, source)
    hparams = verifier_hyperparams_text(
        name, info, model.config, threshold, source
    )

    def write_files(staging):
        """Writes the verifier folder's files and runs it once."""
        (staging / HPARAMS_FILE).write_text(hparams, encoding="utf-8")
        torch.save(model.state_dict(), staging / CHECKPOINT_FILE)
        card = verifier_card(name, info, model, checkpoint, threshold, source)
        (staging / CARD_JSON_FILE).write_text(
            json.dumps(card, indent=2, default=str) + "\n", encoding="utf-8"
        )
        _check_verifier_runs(staging)

    write_folder_staged(out_dir, write_files, overwrite)
    logger.info("exported the encoder of %s to %s", checkpoint.path, out_dir)
    return out_dir


def verifier_card(name, info, model, checkpoint, threshold, source):
    """The facts of an exported verifier: model, threshold, provenance.

    Arguments
    ---------
    name : str
        The model's name.
    info : dict
        From ``read_stage_hyperparams``.
    model : ResNetSE
        The encoder.
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The exported checkpoint.
    threshold : float or None
        The decision threshold.
    source : str
        Where it comes from.

    Returns
    -------
    card : dict
        JSON-ready.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> model = ResNetSE(channels=(4, 4, 4, 4), blocks=(1, 1, 1, 1))
    >>> torch.save(model.state_dict(), path)
    >>> ckpt = SimpleNamespace(path=Path("CKPT+1"), meta={MIN_KEY: 0.1},
    ...     paramfiles={"model": path})
    >>> card = verifier_card("ge2e", {"sample_rate": 16000}, model, ckpt,
    ...     None, "none")
    >>> card["embedding_dim"], card["threshold"]
    (512, None)
    """
    return {
        "name": name,
        "model": MODEL_CLASS,
        "model_kwargs": model.config,
        "embedding_dim": model.config["emb_dim"],
        "sample_rate": info["sample_rate"],
        "score": "cosine of unit-length embeddings (enrolment: unit-length "
        "mean of unit-length embeddings); higher = same speaker",
        "threshold": threshold,
        "threshold_source": source,
        "params": count_parameters(model),
        **card_provenance(checkpoint, checkpoint.paramfiles[MODEL_RECOVERABLE]),
    }


def _plain_kwargs(value, entry, path):
    """Checks that a YAML entry's arguments are a mapping of plain values."""
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise ExportError(f"{path}: {entry} must take keyword arguments")
    for key, item in value.items():
        if not _is_plain(item):
            raise ExportError(
                f"{path}: {entry} argument {key!r} is not a plain value"
            )
    return dict(value)


def _is_plain(value):
    """Whether a value holds plain YAML values only (no tagged object)."""
    if isinstance(value, (list, tuple)):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(_is_plain(item) for item in value.values())
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (bool, int, str))


def _check_verifier_runs(folder):
    """Loads a verifier folder and embeds a second of noise with it."""
    verifier = SpeakerVerifier.from_hparams(folder, run_opts={"device": "cpu"})
    generator = torch.Generator().manual_seed(0)
    noise = 0.1 * torch.randn(1, verifier.sample_rate, generator=generator)
    if not torch.isfinite(verifier.encode_batch(noise)).all():
        raise ExportError(f"{folder}: the exported encoder outputs NaN or inf")
