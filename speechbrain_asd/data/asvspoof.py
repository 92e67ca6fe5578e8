"""Turns ASVspoof 2019 LA (and optionally 2021 LA eval) into CSV manifests.

Authors
 * speechbrain-asd developers
"""

import csv
import io
import os
from typing import Dict, Optional, Sequence

import soundfile as sf
from speechbrain.dataio.dataio import load_pkl, save_pkl
from speechbrain.utils.logger import get_logger

from speechbrain_asd.atomic import write_text_atomic
from speechbrain_asd.scorefiles import (
    ProtocolError,
    read_asv_enrolment,
    read_asv_protocol,
    read_cm_protocol,
)

logger = get_logger(__name__)

CLASS_NAMES = [
    "bonafide",
    "A01",
    "A02",
    "A03",
    "A04",
    "A05",
    "A06",
    "adversarial",
]
UNSEEN_LABEL = -1
SPLITS_2019 = ("train", "dev", "eval")
SPLIT_2021 = "eval_2021"
DATA_ROOT = "data_root"
DATA_ROOT_2021 = "data_root_2021"
CM_HEADER = ["ID", "duration", "wav", "spk_id", "system", "key", "label"]
# The 2021 eval manifest keeps the conditions of trial_metadata.txt.
CM_2021_HEADER = CM_HEADER + ["codec", "transmission", "trim", "subset"]
ENROL_HEADER = ["ID", "duration", "wav", "spk_id"]
ASV_TRIAL_HEADER = ["ID", "duration", "wav", "trial", "spk_id", "system", "key"]
OPT_FILE = "opt_asvspoof_prepare.pkl"

_LA = "LA"
_CM_PROTOCOL_DIR = "ASVspoof2019_LA_cm_protocols"
_CM_PROTOCOLS = {
    "train": "ASVspoof2019.LA.cm.train.trn.txt",
    "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
    "eval": "ASVspoof2019.LA.cm.eval.trl.txt",
}
_ASV_PROTOCOL_DIR = "ASVspoof2019_LA_asv_protocols"
_GENDERS = ("female", "male")
_EVAL_2021_AUDIO = "ASVspoof2021_LA_eval/flac"
_METADATA_2021 = ("keys/LA/CM/trial_metadata.txt", "trial_metadata.txt")
_FORMAT_VERSION = 2  # 2: eval_2021.csv keeps codec, transmission, trim, subset


def class_label(system):
    """Maps a system id to its class index in ``CLASS_NAMES``.

    Arguments
    ---------
    system : str
        ``"bonafide"``, an attack id or ``"adversarial"``.

    Returns
    -------
    int
        The index in ``CLASS_NAMES``, or ``UNSEEN_LABEL`` (-1) for an attack
        that is not one of the 8 training classes.

    Example
    -------
    >>> class_label("bonafide"), class_label("A06"), class_label("A07")
    (0, 6, -1)
    """
    if system in CLASS_NAMES:
        return CLASS_NAMES.index(system)
    return UNSEEN_LABEL


def _audio_2019(split):
    """Gives the audio folder of a 2019 split, relative to the LA folder."""
    return f"ASVspoof2019_LA_{split}/flac"


def _la_prefix(data_folder):
    """Finds the ``LA`` folder of ASVspoof 2019 from ``data_folder``."""
    if os.path.isdir(os.path.join(data_folder, _LA, _CM_PROTOCOL_DIR)):
        return _LA + "/"
    if os.path.isdir(os.path.join(data_folder, _CM_PROTOCOL_DIR)):
        return ""
    raise FileNotFoundError(
        f"data_folder={data_folder!r} holds neither "
        f"{_LA}/{_CM_PROTOCOL_DIR}/ nor {_CM_PROTOCOL_DIR}/: point it at the "
        "folder that contains the LA/ folder of ASVspoof 2019"
    )


def _metadata_2021(folder):
    """Finds the ASVspoof 2021 LA ``trial_metadata.txt``."""
    for candidate in _METADATA_2021:
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"eval_2021_folder={folder!r} holds no trial metadata: expected "
        + " or ".join(_METADATA_2021)
    )


def _asv_protocols(data_folder, la, split):
    """Finds the ASV enrolment and trial lists of a 2019 split."""
    folder = os.path.join(data_folder, la + _ASV_PROTOCOL_DIR)
    names = {g: f"ASVspoof2019.LA.asv.{split}.{g}.trn.txt" for g in _GENDERS}
    names["trials"] = f"ASVspoof2019.LA.asv.{split}.gi.trl.txt"
    paths = {kind: os.path.join(folder, name) for kind, name in names.items()}
    present = [kind for kind, path in paths.items() if os.path.isfile(path)]
    if not present:
        return None
    if len(present) != len(paths):
        missing = [paths[k] for k in paths if k not in present]
        raise FileNotFoundError(
            f"ASV protocols of {split} are incomplete, missing: "
            + ", ".join(missing)
        )
    return paths


class _AudioTable:
    """Looks up audio files and their durations, with errors naming the line."""

    def __init__(self, root, placeholder):
        """Stores the audio root and the ``$placeholder`` of its paths."""
        self.root = root
        self.placeholder = placeholder
        self._durations = {}

    def files(self, audio_dir, utterances, source, linenos):
        """Checks that the audio files exist and reads their durations."""
        relative_paths = [f"{audio_dir}/{utt}.flac" for utt in utterances]
        linenos = list(linenos)
        missing = [
            (lineno, rel)
            for rel, lineno in zip(relative_paths, linenos)
            if rel not in self._durations
            and not os.path.isfile(os.path.join(self.root, rel))
        ]
        if missing:
            lineno, rel = missing[0]
            more = ""
            if len(missing) > 1:
                more = f" ({len(missing) - 1} more missing for this file)"
            raise FileNotFoundError(
                f"{source}:{lineno}: audio file not found: "
                f"{os.path.join(self.root, rel)}{more}"
            )
        return [
            (f"${self.placeholder}/{rel}", self._duration(rel, source, lineno))
            for rel, lineno in zip(relative_paths, linenos)
        ]

    def _duration(self, rel, source, lineno):
        """Reads (once) the duration of one audio file."""
        if rel not in self._durations:
            path = os.path.join(self.root, rel)
            try:
                info = sf.info(path)
            except (RuntimeError, sf.SoundFileError) as err:
                raise ProtocolError(
                    f"{source}:{lineno}: cannot read audio {path}: {err}"
                ) from None
            if info.frames <= 0:
                raise ProtocolError(
                    f"{source}:{lineno}: audio file is empty: {path}"
                )
            self._durations[rel] = f"{info.frames / info.samplerate:.5f}"
        return self._durations[rel]


def _cm_manifest(protocol, audio_dir, table, conditions=False):
    """Builds the rows of a CM manifest (with the 2021 conditions when
    asked) and the speaker list."""
    trials = read_cm_protocol(protocol)
    linenos = range(1, len(trials) + 1)
    files = table.files(audio_dir, [t.trial for t in trials], protocol, linenos)
    rows = [
        [
            t.trial,
            duration,
            wav,
            t.speaker,
            t.attack,
            t.key,
            class_label(t.attack),
            *(
                (t.codec, t.transmission, t.trim, t.subset)
                if conditions
                else ()
            ),
        ]
        for t, (wav, duration) in zip(trials, files)
    ]
    return rows, sorted({t.speaker for t in trials})


def _enrol_manifest(paths, audio_dir, table):
    """Builds the rows of an ASV enrolment manifest."""
    rows = []
    owner = {}
    speakers = {}
    for gender in _GENDERS:
        path = paths[gender]
        enrolment = read_asv_enrolment(path)
        linenos, utts = [], []
        for lineno, (speaker, utterances) in enumerate(enrolment.items(), 1):
            if speaker in speakers:
                raise ProtocolError(
                    f"{path}:{lineno}: speaker {speaker!r} is also enrolled "
                    f"in {speakers[speaker]}"
                )
            speakers[speaker] = path
            for utt in utterances:
                if utt in owner:
                    raise ProtocolError(
                        f"{path}:{lineno}: utterance {utt!r} is also listed "
                        f"in {owner[utt]}"
                    )
                owner[utt] = path
                linenos.append(lineno)
                utts.append((utt, speaker))
        files = table.files(audio_dir, [u for u, _ in utts], path, linenos)
        for (utt, speaker), (wav, duration) in zip(utts, files):
            rows.append([utt, duration, wav, speaker])
    return rows


def _asv_trial_manifest(path, enrolled, audio_dir, table):
    """Builds the rows of an ASV trial manifest."""
    trials = read_asv_protocol(path)
    first_line = {}
    for lineno, t in enumerate(trials, 1):
        if t.speaker not in enrolled:
            raise ProtocolError(
                f"{path}:{lineno}: claimed speaker {t.speaker!r} is not in "
                "the enrolment lists"
            )
        row_id = f"{t.speaker}_{t.trial}"
        if row_id in first_line:
            raise ProtocolError(
                f"{path}:{lineno}: trial {t.trial!r} against speaker "
                f"{t.speaker!r} already listed on line {first_line[row_id]}"
            )
        first_line[row_id] = lineno
    linenos = range(1, len(trials) + 1)
    files = table.files(audio_dir, [t.trial for t in trials], path, linenos)
    return [
        [
            f"{t.speaker}_{t.trial}",
            duration,
            wav,
            t.trial,
            t.speaker,
            t.attack,
            t.key,
        ]
        for t, (wav, duration) in zip(trials, files)
    ]


def _csv_text(header, rows):
    """Formats rows as CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _check_options(data_folder, splits, eval_2021_folder):
    """Checks the arguments of ``prepare_asvspoof``."""
    if isinstance(splits, str):
        raise ValueError(f"splits must be a list of splits, got {splits!r}")
    unknown = [s for s in splits if s not in SPLITS_2019]
    if unknown:
        raise ValueError(
            f"splits: unknown split(s) {unknown}, choose from {SPLITS_2019}"
        )
    if not splits and eval_2021_folder is None:
        raise ValueError("nothing to prepare: splits is empty, no 2021 eval")
    if splits and data_folder is None:
        raise ValueError("data_folder is needed to prepare ASVspoof 2019")
    if eval_2021_folder is not None and not os.path.isdir(eval_2021_folder):
        raise FileNotFoundError(
            f"eval_2021_folder={eval_2021_folder!r} is not a folder"
        )
    return [s for s in SPLITS_2019 if s in splits]


def _plan(data_folder, splits, eval_2021_folder):
    """Lists the manifests to write and where their inputs are."""
    plan = []
    if splits:
        la = _la_prefix(data_folder)
        table = _AudioTable(data_folder, DATA_ROOT)
        for split in splits:
            audio = la + _audio_2019(split)
            protocol = os.path.join(
                data_folder, la + _CM_PROTOCOL_DIR, _CM_PROTOCOLS[split]
            )
            plan.append((split, "cm", (protocol, audio, table)))
            if split == "train":
                continue
            asv = _asv_protocols(data_folder, la, split)
            if asv:
                plan.append((split, "asv", (asv, audio, table)))
    if eval_2021_folder is not None:
        table = _AudioTable(eval_2021_folder, DATA_ROOT_2021)
        metadata = _metadata_2021(eval_2021_folder)
        plan.append((SPLIT_2021, "cm", (metadata, _EVAL_2021_AUDIO, table)))
    return plan


def _output_names(split, kind):
    """Names the output files of one plan step."""
    if kind == "cm":
        return [f"{split}.csv", f"{split}_speakers.txt"]
    return [f"{split}_asv_enrol.csv", f"{split}_asv_trials.csv"]


def _all_output_names():
    """Lists every file name ``prepare_asvspoof`` may write."""
    names = []
    for split in SPLITS_2019 + (SPLIT_2021,):
        names.extend(_output_names(split, "cm"))
        if split in ("dev", "eval"):
            names.extend(_output_names(split, "asv"))
    return names


def _paths(save_folder, names):
    """Maps output file names to ``{stem: path}``."""
    return {
        os.path.splitext(name)[0]: os.path.join(save_folder, name)
        for name in names
    }


def _build(step):
    """Builds the content of the files of one plan step."""
    split, kind, (source, audio, table) = step
    if kind == "cm":
        conditions = split == SPLIT_2021
        rows, speakers = _cm_manifest(source, audio, table, conditions)
        header = CM_2021_HEADER if conditions else CM_HEADER
        labels = [row[len(CM_HEADER) - 1] for row in rows]
        logger.info(
            "%s: %d trials (%d bona fide, %d outside the 8 training "
            "classes), %d speakers",
            split,
            len(rows),
            labels.count(0),
            labels.count(UNSEEN_LABEL),
            len(speakers),
        )
        speakers_text = "".join(f"{s}\n" for s in speakers)
        return [_csv_text(header, rows), speakers_text]
    enrol = _enrol_manifest(source, audio, table)
    enrolled = {row[-1] for row in enrol}
    trials = _asv_trial_manifest(source["trials"], enrolled, audio, table)
    logger.info(
        "%s: %d ASV enrolment utterances of %d speakers, %d ASV trials",
        split,
        len(enrol),
        len(enrolled),
        len(trials),
    )
    return [_csv_text(ENROL_HEADER, enrol), _csv_text(ASV_TRIAL_HEADER, trials)]


def prepare_asvspoof(
    data_folder: Optional[str],
    save_folder: str,
    splits: Sequence[str] = SPLITS_2019,
    eval_2021_folder: Optional[str] = None,
    skip_prep: bool = False,
) -> Dict[str, str]:
    """Writes the CSV manifests of ASVspoof 2019 LA and 2021 LA eval.

    Everything comes from the protocol files, never from folder listings. The
    files written in ``save_folder`` are:

    - ``{split}.csv`` per CM split (``train``, ``dev``, ``eval``,
      ``eval_2021``): ``ID,duration,wav,spk_id,system,key,label``, where
      ``label`` indexes ``CLASS_NAMES`` (-1 for unseen attacks);
      ``eval_2021.csv`` adds ``codec,transmission,trim,subset``;
    - ``{split}_speakers.txt``: the split's sorted speaker ids;
    - ``{dev,eval}_asv_enrol.csv`` (``ID,duration,wav,spk_id``) and
      ``{dev,eval}_asv_trials.csv`` (``ID,duration,wav,trial,spk_id,system,
      key``, ``spk_id`` being the claimed speaker) when the ASV protocols are
      there.

    Preparation is skipped when a previous run with the same options wrote
    every file; all inputs are checked before anything is written.

    Arguments
    ---------
    data_folder : str or None
        The folder that contains ``LA/`` of ASVspoof 2019 (or ``LA/`` itself);
        ``$data_root`` in the manifests stands for it. None only when
        ``splits`` is empty.
    save_folder : str
        Where the manifests go (created if needed).
    splits : sequence of str
        ASVspoof 2019 splits to prepare, among ``train``, ``dev``, ``eval``.
    eval_2021_folder : str, optional
        ASVspoof 2021 folder with ``ASVspoof2021_LA_eval/flac`` and
        ``keys/LA/CM/trial_metadata.txt``; adds ``eval_2021.csv``, whose paths
        start with ``$data_root_2021``.
    skip_prep : bool
        If True, prepares nothing and returns the outputs already there.

    Returns
    -------
    dict
        File stem (``train``, ``train_speakers``, ``dev_asv_enrol``, ...) ->
        path of each manifest.

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> from speechbrain_asd.scorefiles import CMTrial, write_cm_protocol
    >>> root = getfixture("tmp_path")
    >>> flac = root / "LA" / "ASVspoof2019_LA_train" / "flac"
    >>> flac.mkdir(parents=True)
    >>> sf.write(flac / "LA_T_1.flac", np.zeros(1600), 16000)
    >>> write_cm_protocol(
    ...     root / "LA" / "ASVspoof2019_LA_cm_protocols"
    ...     / "ASVspoof2019.LA.cm.train.trn.txt",
    ...     [CMTrial("LA_0079", "LA_T_1", "bonafide", "bonafide")])
    >>> out = prepare_asvspoof(root, root / "csv", splits=["train"])
    >>> sorted(out)
    ['train', 'train_speakers']
    >>> with open(out["train"]) as handle:
    ...     header, row = handle.read().splitlines()
    >>> header
    'ID,duration,wav,spk_id,system,key,label'
    >>> for value in row.split(","):
    ...     print(value)
    LA_T_1
    0.10000
    $data_root/LA/ASVspoof2019_LA_train/flac/LA_T_1.flac
    LA_0079
    bonafide
    bonafide
    0
    """
    save_folder = os.fspath(save_folder)
    if skip_prep:
        existing = [
            name
            for name in _all_output_names()
            if os.path.isfile(os.path.join(save_folder, name))
        ]
        return _paths(save_folder, existing)
    if data_folder is not None:
        data_folder = os.fspath(data_folder)
    if eval_2021_folder is not None:
        eval_2021_folder = os.fspath(eval_2021_folder)
    splits = _check_options(data_folder, splits, eval_2021_folder)
    plan = _plan(data_folder, splits, eval_2021_folder)
    names = [name for step in plan for name in _output_names(*step[:2])]
    outputs = _paths(save_folder, names)
    options = {
        "data_folder": data_folder,
        "splits": splits,
        "eval_2021_folder": eval_2021_folder,
        "format_version": _FORMAT_VERSION,
    }
    opt_path = os.path.join(save_folder, OPT_FILE)
    if _already_done(opt_path, options, outputs.values()):
        logger.info("Manifests in %s are up to date, skipping", save_folder)
        return outputs
    logger.info("Preparing ASVspoof manifests in %s", save_folder)
    contents = []
    for step in plan:
        contents.extend(_build(step))
    if os.path.isfile(opt_path):
        os.remove(opt_path)
    for path, text in zip(outputs.values(), contents):
        write_text_atomic(path, text)
    save_pkl(options, opt_path)
    logger.info("Wrote %d files to %s", len(outputs), save_folder)
    return outputs


def _already_done(opt_path, options, paths):
    """Tells whether a previous run with the same options wrote every file."""
    if not os.path.isfile(opt_path):
        return False
    if not all(os.path.isfile(path) for path in paths):
        return False
    try:
        return load_pkl(opt_path) == options
    except Exception:  # an unreadable pickle only means "prepare again"
        return False
