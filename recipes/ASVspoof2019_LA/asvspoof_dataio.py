"""Datasets and audio pipelines of the ASVspoof 2019 LA recipe.

The stages read the CSV manifests of ``asvspoof_prepare.py`` (columns
``ID,duration,wav,spk_id,system,key,label``) into SpeechBrain
``DynamicItemDataset`` objects that provide ``sig`` (the waveform, cropped
as the stage asks) and ``class_index`` (the 8-class label).

Crops. Training takes a random crop of ``crop_seconds`` from each
utterance; an utterance shorter than that is repeated until it fills the
crop (as the ASVspoof baselines do), so training batches hold no padding.
Dev and eval read each utterance from its start, whole or cut at
``max_seconds``; nothing is repeated: the batch is padded and the lengths go
to the model, whose every layer masks the padding, so a padded utterance
scores as it would alone.

Authors
 * speechbrain-asd developers
"""

import csv
import math
import os
from collections import defaultdict

import numpy as np
import soundfile as sf
import speechbrain as sb
import torch
from speechbrain.dataio.dataio import load_data_csv, read_audio
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.logger import get_logger

from speechbrain_asd.data.asvspoof import DATA_ROOT, DATA_ROOT_2021

logger = get_logger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac")
AUGMENTATION_HEADER = ["ID", "duration", "wav", "wav_format", "wav_opts"]


def load_rows(csv_path, data_folder, data_folder_2021=None):
    """Reads a manifest into ``{ID: row}`` with ``$data_root`` replaced.

    Arguments
    ---------
    csv_path : str
        The manifest.
    data_folder : str
        The folder ``$data_root`` stands for.
    data_folder_2021 : str, optional
        The folder ``$data_root_2021`` stands for (``eval_2021.csv``).

    Returns
    -------
    rows : dict
        ID -> row dict (``duration`` as float, other columns as strings).
    """
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(
            f"manifest {csv_path} not found: run the stage that writes it "
            "(data preparation: skip_prep=False) or check the path"
        )
    replacements = {DATA_ROOT: data_folder}
    if data_folder_2021 is not None:
        replacements[DATA_ROOT_2021] = data_folder_2021
    return load_data_csv(csv_path, replacements=replacements)


def select_subset(rows, max_items, key, seed):
    """Keeps at most ``max_items`` rows, in proportion to the groups of a key.

    Each group (e.g. each ``system`` or ``spk_id``) keeps a share of
    ``max_items`` proportional to its size (largest remainders, at least one
    row per group when ``max_items`` allows); within a group the rows are
    drawn at random. The choice depends only on the rows and ``seed``.

    Arguments
    ---------
    rows : dict
        ID -> row.
    max_items : int or None
        How many rows to keep; None or a number >= len(rows) keeps all.
    key : str
        The column that defines the groups.
    seed : int
        Seed of the draw.

    Returns
    -------
    rows : dict
        The kept rows, in the original order.
    """
    if max_items is None or max_items >= len(rows):
        return rows
    if max_items < 1:
        raise ValueError(f"max_items must be >= 1 or null, got {max_items}")
    groups = defaultdict(list)
    for utt_id in sorted(rows):
        groups[rows[utt_id][key]].append(utt_id)
    names = sorted(groups)
    total = len(rows)
    exact = [max_items * len(groups[g]) / total for g in names]
    quota = [math.floor(value) for value in exact]
    if max_items >= len(names):
        quota = [max(1, q) for q in quota]
    order = sorted(
        range(len(names)), key=lambda i: exact[i] - math.floor(exact[i])
    )
    while sum(quota) < max_items:
        index = order.pop()
        quota[index] += 1
    while sum(quota) > max_items:
        index = max(range(len(names)), key=lambda i: quota[i])
        quota[index] -= 1
    rng = np.random.default_rng(seed)
    keep = set()
    for name, count in zip(names, quota):
        members = groups[name]
        keep.update(members[i] for i in rng.permutation(len(members))[:count])
    return {utt_id: row for utt_id, row in rows.items() if utt_id in keep}


def crop_signal(signal, n_samples, random_start, fill):
    """Cuts a waveform to ``n_samples``, optionally repeating a short one.

    Arguments
    ---------
    signal : torch.Tensor
        Waveform, shape [samples].
    n_samples : int
        Target length.
    random_start : bool
        Start the crop at a random sample (True) or at 0 (False).
    fill : bool
        Repeat a shorter waveform until it has ``n_samples`` (True) or
        return it unchanged (False).

    Returns
    -------
    signal : torch.Tensor
        The crop.
    """
    length = signal.shape[0]
    if length >= n_samples:
        start = 0
        if random_start and length > n_samples:
            start = int(torch.randint(length - n_samples + 1, ()))
        return signal[start : start + n_samples]
    if not fill:
        return signal
    return signal.repeat(math.ceil(n_samples / length))[:n_samples]


def make_audio_pipeline(sample_rate, seconds=None, train=False):
    """Builds the dynamic item that reads ``wav`` into ``sig``.

    Arguments
    ---------
    sample_rate : int
        Sample rate of the audio, in Hz.
    seconds : float, optional
        Training: the crop length; dev/eval: the maximum duration read from
        the start of each file. None reads whole files.
    train : bool
        True for the training crops (random start, short utterances
        repeated); False for dev/eval (from the start, never repeated).

    Returns
    -------
    pipeline : callable
        A SpeechBrain dynamic item taking ``wav`` and providing ``sig``.
    """
    if seconds is not None and not seconds > 0:
        raise ValueError(f"crop length must be > 0 s or null, got {seconds}")
    if train and seconds is None:
        raise ValueError("training needs a crop length in seconds")
    n_samples = None if seconds is None else int(round(seconds * sample_rate))

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        """Reads one waveform and crops it.

        Arguments
        ---------
        wav : str
            Path of the audio file.

        Returns
        -------
        sig : torch.Tensor
            The waveform, shape [samples].
        """
        signal = read_audio(wav)
        if signal.dim() != 1:
            raise ValueError(f"{wav}: expected mono audio")
        if n_samples is None:
            return signal
        return crop_signal(signal, n_samples, random_start=train, fill=train)

    return audio_pipeline


@sb.utils.data_pipeline.takes("label")
@sb.utils.data_pipeline.provides("class_index")
def label_pipeline(label):
    """Turns the manifest's label column into a class index tensor.

    Arguments
    ---------
    label : str
        Class index (-1 for eval attacks outside the 8 classes).

    Returns
    -------
    class_index : torch.Tensor
        Shape [1], int64.
    """
    return torch.LongTensor([int(label)])


def make_dataset(rows, audio_pipeline, with_labels=True):
    """Wraps manifest rows into a dataset providing ``sig`` (and labels).

    Arguments
    ---------
    rows : dict
        ID -> row.
    audio_pipeline : callable
        From ``make_audio_pipeline``.
    with_labels : bool
        Also provide ``class_index`` (needs a ``label`` column).

    Returns
    -------
    dataset : speechbrain.dataio.dataset.DynamicItemDataset
        Output keys ``id``, ``sig`` and, with labels, ``class_index``.
    """
    pipelines = [audio_pipeline]
    keys = ["id", "sig"]
    if with_labels:
        pipelines.append(label_pipeline)
        keys.append("class_index")
    return DynamicItemDataset(
        dict(rows), dynamic_items=pipelines, output_keys=keys
    )


def sorted_by_duration(dataset):
    """Sorts a dataset by duration (least padding in dev/eval batches).

    Arguments
    ---------
    dataset : speechbrain.dataio.dataset.DynamicItemDataset
        A dataset whose rows have a ``duration``.

    Returns
    -------
    dataset : speechbrain.dataio.dataset.DynamicItemDataset
        The same items, shortest first.
    """
    return dataset.filtered_sorted(sort_key="duration")


def merge_rows(*parts):
    """Joins row dicts, refusing repeated IDs.

    Arguments
    ---------
    *parts : dict
        ID -> row dicts.

    Returns
    -------
    rows : dict
        All rows, in order.
    """
    merged = {}
    for part in parts:
        repeated = sorted(set(part) & set(merged))
        if repeated:
            raise ValueError(
                f"the same ID appears in two manifests: {repeated[:5]}"
            )
        merged.update(part)
    return merged


def write_augmentation_csv(folder, csv_path):
    """Lists the audio files under a folder (e.g. MUSAN, RIRS) into a CSV.

    The CSV has SpeechBrain's legacy columns
    ``ID,duration,wav,wav_format,wav_opts`` that ``AddNoise`` and
    ``AddReverb`` read, with absolute paths. It is rewritten only when
    missing.

    Arguments
    ---------
    folder : str
        Folder searched recursively for ``.wav`` and ``.flac`` files.
    csv_path : str
        The CSV to write.

    Returns
    -------
    csv_path : str
        The CSV.
    """
    if os.path.isfile(csv_path):
        return csv_path
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"augmentation folder {folder} not found")
    rows = []
    for root, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            if not name.lower().endswith(AUDIO_EXTENSIONS):
                continue
            path = os.path.abspath(os.path.join(root, name))
            info = sf.info(path)
            relative = os.path.relpath(path, folder)
            rows.append(
                {
                    "ID": os.path.splitext(relative)[0].replace(os.sep, "_"),
                    "duration": f"{info.frames / info.samplerate:.4f}",
                    "wav": path,
                    "wav_format": os.path.splitext(name)[1][1:].lower(),
                    "wav_opts": "",
                }
            )
    if not rows:
        raise ValueError(f"no .wav or .flac file under {folder}")
    os.makedirs(os.path.dirname(os.path.abspath(csv_path)), exist_ok=True)
    tmp = f"{csv_path}.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=AUGMENTATION_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, csv_path)
    logger.info("Listed %d files of %s in %s", len(rows), folder, csv_path)
    return csv_path
