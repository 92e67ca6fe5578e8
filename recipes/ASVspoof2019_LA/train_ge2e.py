#!/usr/bin/env python3
"""Stage 1 of adversarial speaker distillation: GE2E pre-training.

G-ResNetSE learns speaker embeddings (the output of its attentive pooling
and embedding layer) with the generalized end-to-end loss on batches of
N speakers x M utterances of the training set. After every epoch the
speaker EER on the dev ASV trials (bona fide target against nontarget
trials, cosine of the test embedding to the centroid of the claimed
speaker's enrolment embeddings) selects the checkpoint. At the end the best
model scores every ASV trial of dev and eval, spoofed ones included, and
writes ASVspoof 2019 ASV score files (``<source> <target|nontarget|spoof>
<score>``): the ASV system behind the t-DCF of the later stages on a corpus
without organisers' ASV scores.

Run from this folder::

    python train_ge2e.py hparams/ge2e.yaml --data_folder=/path/to/ASVspoof2019

Authors
 * speechbrain-asd developers
"""

import os
import sys

import speechbrain as sb
from asv_scoring import (
    ASV_SCORE_FILE,
    asv_dataset,
    asv_trial_scores,
    load_asv_lists,
    speaker_eer,
)
from asvspoof_dataio import (
    load_rows,
    make_audio_pipeline,
    make_dataset,
    select_subset,
)
from asvspoof_prepare import prepare_asvspoof
from asvspoof_stages import (
    ModelMethod,
    read_json,
    write_json,
)
from hyperpyyaml import load_hyperpyyaml
from speaker_stages import MIN_KEY, SpeakerEncoderBrain
from speechbrain.dataio.dataloader import make_dataloader
from speechbrain.utils.distributed import if_main_process, run_on_main
from speechbrain.utils.logger import get_logger

from speechbrain_asd.checkpoints import best_checkpoint, save_best_model
from speechbrain_asd.data.sampler import SpeakerBatchSampler
from speechbrain_asd.scorefiles import write_asv_scores

logger = get_logger(__name__)

ASV_SUMMARY = "asv_scores.json"


class GE2EBrain(SpeakerEncoderBrain):
    """Trains speaker embeddings with the GE2E loss on N x M batches.

    ``modules`` holds ``compute_features`` (log-Mel), ``embedder`` (the
    model's ``embed`` method, wrapped so that DDP sees it as ``forward``)
    and ``ge2e_loss`` (its learnable scale and bias). Dev and eval passes
    store the embedding of every utterance; the ASV trials are scored from
    them in ``on_stage_end``. ``bn_loader`` (set by ``main``) holds the
    training crops that the BatchNorm statistics are re-estimated on.
    """

    def compute_forward(self, batch, stage):
        """Computes the embeddings of a batch.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Waveforms ``sig``; in training N x M of them, speaker-major.
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.

        Returns
        -------
        embeddings : torch.Tensor
            Shape [batch, emb_dim].
        """
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        feats, frame_lens = self.modules.compute_features.with_frame_lengths(
            wavs, lens
        )
        return self.modules.embedder(feats, frame_lens)

    def compute_objectives(self, predictions, batch, stage):
        """GE2E loss in training; stores the embeddings otherwise.

        Arguments
        ---------
        predictions : torch.Tensor
            Embeddings, shape [batch, emb_dim].
        batch : speechbrain.dataio.batch.PaddedBatch
            The batch (``id``).
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.

        Returns
        -------
        loss : torch.Tensor
            The GE2E loss (zero outside training).
        """
        if stage == sb.Stage.TRAIN:
            n_speakers = self.hparams.n_speakers
            grouped = predictions.view(n_speakers, -1, predictions.shape[-1])
            return self.modules.ge2e_loss(grouped)
        return self.store_embeddings(self.embeddings, batch.id, predictions)


def dataio_prepare(hparams):
    """Builds the training loader and the dev/eval ASV datasets.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters.

    Returns
    -------
    train_loader : speechbrain.dataio.dataloader.SaveableDataLoader
        N x M batches from ``SpeakerBatchSampler``.
    sampler : SpeakerBatchSampler
        Its batch sampler (for ``brain.train_sampler``).
    bn_loader : speechbrain.dataio.dataloader.SaveableDataLoader
        Training crops (``bn_recalibration_items``, proportional per
        speaker) for the BatchNorm statistics.
    asv : dict
        Per split (``dev``, ``eval``): ``enrol`` and ``trials`` rows.
    """
    data_folder = hparams["data_folder"]
    train_rows = load_rows(hparams["train_csv"], data_folder)
    if hparams["bonafide_only"]:
        train_rows = {
            k: r for k, r in train_rows.items() if r["key"] == "bonafide"
        }
    train_rows = select_subset(
        train_rows, hparams["train_max_items"], "spk_id", hparams["seed"]
    )
    train_pipeline = make_audio_pipeline(
        hparams["sample_rate"], hparams["train_crop"], train=True
    )
    train_set = make_dataset(train_rows, train_pipeline, with_labels=False)
    sampler = SpeakerBatchSampler.from_dataset(
        train_set,
        hparams["n_speakers"],
        hparams["n_utterances"],
        seed=hparams["seed"],
    )
    train_loader = make_dataloader(
        train_set, batch_sampler=sampler, num_workers=hparams["num_workers"]
    )
    bn_rows = select_subset(
        train_rows, hparams["bn_recalibration_items"], "spk_id", hparams["seed"]
    )
    bn_loader = make_dataloader(
        make_dataset(bn_rows, train_pipeline, with_labels=False),
        **hparams["eval_dataloader_opts"],
    )
    asv = load_asv_lists(
        data_folder,
        {
            "dev": (hparams["dev_enrol_csv"], hparams["dev_trials_csv"]),
            "eval": (hparams["eval_enrol_csv"], hparams["eval_trials_csv"]),
        },
        hparams["dev_max_trials"],
        hparams["seed"],
    )
    return train_loader, sampler, bn_loader, asv


def write_final_asv_scores(brain, hparams, asv):
    """Scores every dev and eval ASV trial with the best checkpoint.

    Skipped when the summary file says it was done with the same checkpoint.

    Arguments
    ---------
    brain : GE2EBrain
        The trained Brain.
    hparams : dict
        The loaded hyperparameters.
    asv : dict
        From ``dataio_prepare``.
    """
    if if_main_process():
        save_best_model(hparams["save_folder"], hparams["best_model"], MIN_KEY)
    best = best_checkpoint(hparams["save_folder"], MIN_KEY)
    score_folder = hparams["asv_score_folder"]
    summary_path = os.path.join(score_folder, ASV_SUMMARY)
    try:
        summary = read_json(summary_path)
    except FileNotFoundError:
        summary = {}
    if summary.get("checkpoint") == best.path.name:
        logger.info("ASV scores of %s are up to date", best.path.name)
        return
    summary = {"checkpoint": best.path.name, MIN_KEY: best.meta[MIN_KEY]}
    for split in ("dev", "eval"):
        enrol, trials = asv[split]["enrol"], asv[split]["trials"]
        embeddings = brain.embed_trials(enrol, trials, hparams)
        scored = asv_trial_scores(embeddings, enrol, trials)
        path = os.path.join(score_folder, ASV_SCORE_FILE.format(split=split))
        if if_main_process():
            write_asv_scores(path, scored)
        eer = speaker_eer(scored)
        summary[split] = {"speaker_eer": eer, "scores": path}
        logger.info("%s ASV: speaker EER %.2f %% -> %s", split, 100 * eer, path)
    if if_main_process():
        write_json(summary_path, summary)


def main():
    """Runs GE2E pre-training from the command line."""
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    run_on_main(
        prepare_asvspoof,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["manifest_folder"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    train_loader, sampler, bn_loader, asv = dataio_prepare(hparams)
    modules = dict(hparams["modules"])
    modules["embedder"] = ModelMethod(hparams["model"], "embed")
    brain = GE2EBrain(
        modules=modules,
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.attach(
        asv["dev"]["enrol"],
        asv["dev_selection"],
        bn_loader,
        hparams["lr_annealing"],
        hparams["train_logger"],
    )
    brain.train_sampler = sampler
    brain.checkpointer.add_recoverable("dataloader-TRAIN", train_loader)
    brain.fit(
        brain.hparams.epoch_counter,
        train_loader,
        asv_dataset(
            asv["dev"]["enrol"],
            asv["dev_selection"],
            hparams["sample_rate"],
            hparams["eval_max_duration"],
        ),
        valid_loader_kwargs=dict(hparams["eval_dataloader_opts"]),
    )
    write_final_asv_scores(brain, hparams, asv)


if __name__ == "__main__":
    main()
