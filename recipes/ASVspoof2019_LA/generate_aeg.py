#!/usr/bin/env python3
"""Stage 2 of adversarial speaker distillation: static AEG.

Draws same-speaker pairs of bona fide training utterances, attacks each
pair with the basic iterative method of the paper's Algorithm 1 using the
best GE2E model's embedding (``speechbrain_asd.data.adversarial``, the same
``generate_adversarial_set`` that active AEG calls before every epoch), and
writes the examples that pass the similarity filter as 16-bit FLAC files
with a manifest (``adversarial.csv``, system ``adversarial``, label 7) for
the teacher stage. A re-run with the same GE2E checkpoint and options finds
``aeg_summary.json`` and does nothing.

Run from this folder::

    python generate_aeg.py hparams/aeg.yaml --data_folder=/path/to/ASVspoof2019

Authors
 * speechbrain-asd developers
"""

import os
import sys

import speechbrain as sb
from asvspoof_dataio import load_rows, select_subset
from asvspoof_prepare import prepare_asvspoof
from asvspoof_stages import (
    read_json,
    write_json,
)
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import infer_device
from speechbrain.utils.logger import get_logger

from speechbrain_asd.checkpoints import (
    MODEL_RECOVERABLE,
    best_checkpoint,
    load_checkpoint,
)
from speechbrain_asd.data.adversarial import (
    generate_adversarial_set,
    make_same_speaker_pairs,
)
from speechbrain_asd.features import waveform_embedder

logger = get_logger(__name__)

GE2E_KEY = "dev_speaker_eer"
SUMMARY = "aeg_summary.json"


def main():
    """Generates the static adversarial set from the command line."""
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    prepare_asvspoof(
        data_folder=hparams["data_folder"],
        save_folder=hparams["manifest_folder"],
        skip_prep=hparams["skip_prep"],
    )
    model = hparams["model"]
    checkpoint = best_checkpoint(
        os.path.join(hparams["ge2e_folder"], "save"), GE2E_KEY
    )
    options = dict(hparams["aeg_options"])
    request = {
        "checkpoint": str(checkpoint.path),
        "n_pairs": hparams["aeg_n_pairs"],
        "train_max_items": hparams["train_max_items"],
        "seed": hparams["seed"],
        "options": options,
    }
    summary_path = os.path.join(hparams["output_folder"], SUMMARY)
    if os.path.isfile(summary_path):
        previous = read_json(summary_path)
        if previous.get("request") == request and os.path.isfile(
            hparams["adversarial_csv"]
        ):
            logger.info("%s is up to date: nothing to do", summary_path)
            return
    load_checkpoint(model, checkpoint.paramfiles[MODEL_RECOVERABLE])
    device = run_opts["device"] or infer_device()
    model.to(device).eval()
    features = hparams["compute_features"].to(device)

    embed = waveform_embedder(features, model)

    rows = select_subset(
        load_rows(hparams["train_csv"], hparams["data_folder"]),
        hparams["train_max_items"],
        "system",
        hparams["seed"],
    )
    pairs = make_same_speaker_pairs(
        rows, hparams["aeg_n_pairs"], seed=hparams["seed"]
    )
    stats = generate_adversarial_set(
        embed,
        pairs,
        hparams["adversarial_folder"],
        hparams["adversarial_csv"],
        device=device,
        model=[model],
        progress=not run_opts["noprogressbar"],
        **options,
    )
    write_json(
        summary_path,
        {
            "request": request,
            "tried": stats.tried,
            "kept": stats.kept,
            "mean_similarity": stats.mean_similarity,
            "mean_initial_similarity": stats.mean_initial_similarity,
            "manifest": stats.manifest,
        },
    )
    logger.info(
        "Static AEG: %d of %d examples kept -> %s",
        stats.kept,
        stats.tried,
        stats.manifest,
    )


if __name__ == "__main__":
    main()
