#!/usr/bin/env python3
"""A light ASV: the L-ResNetSE distilled from the SEEF-ALDR speaker encoder.

From "Emphasizing non-target speakers' knowledge in knowledge distillation
for speaker verification" (ICASSP 2024). The teacher is the purifying
encoder E_p (G-ResNetSE) of the SEEF-ALDR stage with its speaker head, both
restored strictly from that stage's best checkpoint and frozen. The student
(L-ResNetSE and its own speaker head) learns the same training speakers on
bona fide utterances with the YAML's ``kd_loss``: Hinton KD or decoupled KD
(non-target part weighted up) over the speaker logits, embedding-level KD
(cosine or MSE) added to the cross-entropy, or nothing (``null``: the
student alone). After every epoch the student's speaker EER on the dev ASV
trials selects the checkpoint. At the end the best checkpoint scores every
dev and eval ASV trial (``asv_scores/``), and ``asv_report.json`` gives the
speaker EER and minDCF of the student and of the teacher on the same trials.

Run from this folder::

    python train_speaker_kd.py hparams/speaker_kd.yaml \\
        --data_folder=/path/to/ASVspoof2019 \\
        --teacher_folder=results/seef_aldr/1986

Authors
 * speechbrain-asd developers
"""

import os
import sys

import speechbrain as sb
import torch
import torch.nn.functional as F
from asv_scoring import (
    ASV_SCORE_FILE,
    asv_dataset,
    asv_trial_scores,
    speaker_eer,
    speaker_min_dcf,
)
from asvspoof_prepare import prepare_asvspoof
from asvspoof_stages import (
    ModelMethod,
    read_json,
    write_json,
)
from hyperpyyaml import load_hyperpyyaml
from speaker_data import speaker_dataio
from speaker_stages import MIN_KEY, SpeakerEncoderBrain
from speechbrain.utils.distributed import if_main_process, run_on_main
from speechbrain.utils.logger import get_logger
from train_seef_aldr import MIN_KEY as TEACHER_MIN_KEY

from speechbrain_asd.checkpoints import (
    CheckpointError,
    best_checkpoint,
    load_checkpoint,
    save_best_model,
)
from speechbrain_asd.losses import DecoupledKDLoss, EmbeddingKDLoss, KDLoss
from speechbrain_asd.scorefiles import write_asv_scores

logger = get_logger(__name__)

TEACHER_PARTS = {"model": "teacher", "speaker_classifier": "teacher_classifier"}
KD_SETTINGS = ("temperature", "gamma", "alpha", "beta", "distance", "weight")


class SpeakerKDBrain(SpeakerEncoderBrain):
    """Trains the student encoder and speaker head from a frozen teacher.

    ``modules`` holds ``compute_features``, ``embedder`` (the student's
    ``embed``), ``speaker_classifier`` and, when the KD loss has
    parameters (a projection), ``kd_loss``. The teacher and its head stay
    outside ``modules``: never trained, never checkpointed, always in eval
    mode. Dev and eval passes store the embedding of every utterance, the
    student's or, with ``score_teacher``, the teacher's; ``main``
    attaches the dev lists and ``bn_loader``.

    Arguments
    ---------
    teacher : torch.nn.Module
        The teacher encoder (``embed``).
    teacher_classifier : torch.nn.Module
        The teacher's speaker head.
    kd_loss : torch.nn.Module or None
        ``KDLoss``, ``DecoupledKDLoss``, ``EmbeddingKDLoss`` or None.
    **kwargs : dict
        Arguments of ``speechbrain.Brain``.
    """

    def __init__(self, teacher, teacher_classifier, kd_loss, **kwargs):
        """Stores the frozen teacher and the KD loss, then builds the Brain."""
        super().__init__(**kwargs)
        self.teacher = teacher.to(self.device).eval().requires_grad_(False)
        self.teacher_classifier = (
            teacher_classifier.to(self.device).eval().requires_grad_(False)
        )
        self.kd_loss = kd_loss
        self.score_teacher = False

    def on_fit_start(self):
        """Starts as StageBrain does; keeps the teacher frozen in eval mode."""
        super().on_fit_start()
        self.teacher.to(self.device).eval()
        self.teacher_classifier.to(self.device).eval()

    def features(self, batch):
        """Log-Mel features of a batch.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Waveforms ``sig``.

        Returns
        -------
        feats : torch.Tensor
            Shape [batch, frames, n_mels].
        lengths : torch.Tensor
            Relative lengths, in frames.
        """
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        return self.modules.compute_features.with_frame_lengths(wavs, lens)

    def compute_forward(self, batch, stage):
        """The student's embedding, and the teacher's outputs to distil.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Waveforms ``sig``.
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.

        Returns
        -------
        outputs : dict
            ``embedding`` [batch, emb_dim]: the student's, or the
            teacher's when scoring it; in training with a KD loss also
            ``teacher_embedding`` and ``teacher_logits``.
        """
        feats, lengths = self.features(batch)
        if stage != sb.Stage.TRAIN and self.score_teacher:
            return {"embedding": self.teacher.embed(feats, lengths)}
        outputs = {"embedding": self.modules.embedder(feats, lengths)}
        if stage == sb.Stage.TRAIN and self.kd_loss is not None:
            with torch.no_grad():
                embedding = self.teacher.embed(feats, lengths)
                outputs["teacher_embedding"] = embedding
                outputs["teacher_logits"] = self.teacher_classifier(embedding)
        return outputs

    def compute_objectives(self, predictions, batch, stage):
        """CE with the KD term in training; stores the embeddings otherwise.

        Arguments
        ---------
        predictions : dict
            From ``compute_forward``.
        batch : speechbrain.dataio.batch.PaddedBatch
            The batch (``id``; ``spk_index`` in training).
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.

        Returns
        -------
        loss : torch.Tensor
            The objective (zero outside training).
        """
        if stage != sb.Stage.TRAIN:
            return self.store_embeddings(
                self.embeddings, batch.id, predictions["embedding"]
            )
        embedding = predictions["embedding"]
        logits = self.modules.speaker_classifier(embedding)
        targets = batch.spk_index.data[:, 0]
        kd_loss = getattr(self.modules, "kd_loss", self.kd_loss)
        if self.kd_loss is None:
            return F.cross_entropy(logits, targets)
        if isinstance(self.kd_loss, EmbeddingKDLoss):
            distance = kd_loss(embedding, predictions["teacher_embedding"])
            return F.cross_entropy(logits, targets) + distance
        return kd_loss(logits, predictions["teacher_logits"], targets)

    def bn_forward(self, batch):
        """The student's embedding, for its BatchNorm statistics.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Training crops.

        Returns
        -------
        torch.Tensor
            Shape [batch, emb_dim].
        """
        return self.modules.embedder(*self.features(batch))


def check_kd_loss(kd_loss):
    """Raises ValueError unless the KD loss is one the Brain knows.

    Arguments
    ---------
    kd_loss : object
        The YAML's ``kd_loss``.

    Returns
    -------
    settings : dict
        ``loss`` (the class name, or None) and its hyperparameters, for the
        report.
    """
    if kd_loss is None:
        return {"loss": None}
    if not isinstance(kd_loss, (KDLoss, DecoupledKDLoss, EmbeddingKDLoss)):
        raise ValueError(
            "kd_loss must be null, a KDLoss, a DecoupledKDLoss or an "
            f"EmbeddingKDLoss, got {type(kd_loss).__name__}"
        )
    settings = {"loss": type(kd_loss).__name__}
    for name in KD_SETTINGS:
        if hasattr(kd_loss, name):
            settings[name] = getattr(kd_loss, name)
    return settings


def load_teacher(hparams, speakers):
    """Restores the teacher's E_p and speaker head, strictly, from the best
    checkpoint of the SEEF-ALDR stage in ``teacher_folder``.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters (``teacher_folder``, ``teacher``,
        ``teacher_classifier``).
    speakers : list of str
        The student's classes, in index order.

    Returns
    -------
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The teacher's checkpoint.

    Raises
    ------
    speechbrain_asd.checkpoints.CheckpointError
        When the folder has no such checkpoint, when it lacks E_p or the
        speaker head, or when they do not fit the YAML's teacher.
    ValueError
        When the teacher learnt other speakers (its ``asv_report.json``).
    """
    folder = hparams["teacher_folder"]
    checkpoint = best_checkpoint(os.path.join(folder, "save"), TEACHER_MIN_KEY)
    missing = sorted(set(TEACHER_PARTS) - set(checkpoint.paramfiles))
    if missing:
        raise CheckpointError(
            f"{checkpoint.path}: no {', '.join(missing)} in it; "
            "teacher_folder must be the output folder of the SEEF-ALDR stage"
        )
    for part, name in TEACHER_PARTS.items():
        load_checkpoint(hparams[name], checkpoint.paramfiles[part])
    teacher_speakers = read_json(os.path.join(folder, "asv_report.json")).get(
        "speakers"
    )
    if teacher_speakers != speakers:
        raise ValueError(
            f"the teacher in {folder} learnt the speakers {teacher_speakers}, "
            f"the student learns {speakers}: give both stages the same "
            "training data, subset and seed"
        )
    logger.info("Teacher: %s", checkpoint.path)
    return checkpoint


def build_modules(hparams):
    """The Brain's modules: the student, and a KD projection to train.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters.

    Returns
    -------
    modules : dict
        Name -> module.
    """
    modules = dict(hparams["modules"])
    modules["embedder"] = ModelMethod(hparams["model"], "embed")
    kd_loss = hparams["kd_loss"]
    if kd_loss is not None and list(kd_loss.parameters()):
        modules["kd_loss"] = kd_loss
        hparams["checkpointer"].add_recoverable("kd_loss", kd_loss)
    return modules


def score_asv(brain, hparams, data, teacher):
    """ASV scores and metrics of the student's best checkpoint or of the
    teacher, on every dev and eval trial.

    Arguments
    ---------
    brain : SpeakerKDBrain
        The trained Brain.
    hparams : dict
        The loaded hyperparameters.
    data : dict
        From ``dataio_prepare``.
    teacher : bool
        Whether to score the teacher.

    Returns
    -------
    results : dict
        Per split: the scored trials and ``speaker_eer`` and ``min_dcf``.
    """
    brain.score_teacher = teacher
    results = {}
    for split in ("dev", "eval"):
        enrol = data["asv"][split]["enrol"]
        trials = data["asv"][split]["trials"]
        embeddings = brain.embed_trials(enrol, trials, hparams)
        scored = asv_trial_scores(embeddings, enrol, trials)
        results[split] = {
            "scored": scored,
            "speaker_eer": speaker_eer(scored),
            "min_dcf": speaker_min_dcf(scored),
        }
        logger.info(
            "%s ASV, %s: speaker EER %.2f %%, minDCF %.4f",
            split,
            "teacher" if teacher else "student",
            100 * results[split]["speaker_eer"],
            results[split]["min_dcf"],
        )
    brain.score_teacher = False
    return results


def write_final_outputs(brain, hparams, data, teacher_checkpoint, kd):
    """Scores every dev and eval ASV trial with the student's best
    checkpoint and with the teacher, and writes the report.

    Skipped when the report says it was written for the same checkpoints.

    Arguments
    ---------
    brain : SpeakerKDBrain
        The trained Brain.
    hparams : dict
        The loaded hyperparameters.
    data : dict
        From ``dataio_prepare``.
    teacher_checkpoint : speechbrain.utils.checkpoints.Checkpoint
        The teacher's checkpoint.
    kd : dict
        From ``check_kd_loss``.
    """
    if if_main_process():
        save_best_model(hparams["save_folder"], hparams["best_model"], MIN_KEY)
    best = best_checkpoint(hparams["save_folder"], MIN_KEY)
    teacher = {
        "folder": str(hparams["teacher_folder"]),
        "checkpoint": str(teacher_checkpoint.path),
    }
    report_path = hparams["asv_report"]
    try:
        report = read_json(report_path)
    except FileNotFoundError:
        report = {}
    if (
        report.get("checkpoint") == best.path.name
        and report.get("teacher") == teacher
    ):
        logger.info("ASV report of %s is up to date", best.path.name)
        return
    report = {
        "checkpoint": best.path.name,
        MIN_KEY: best.meta[MIN_KEY],
        "kd": kd,
        "teacher": teacher,
        "speakers": data["speakers"],
    }
    student = score_asv(brain, hparams, data, teacher=False)
    teacher_results = score_asv(brain, hparams, data, teacher=True)
    for split in ("dev", "eval"):
        path = os.path.join(
            hparams["asv_score_folder"], ASV_SCORE_FILE.format(split=split)
        )
        if if_main_process():
            write_asv_scores(path, student[split]["scored"])
        report[split] = {}
        for name, results in (
            ("student", student),
            ("teacher", teacher_results),
        ):
            report[split][name] = {
                key: results[split][key] for key in ("speaker_eer", "min_dcf")
            }
        report[split]["student"]["scores"] = path
    if if_main_process():
        write_json(report_path, report)


def dataio_prepare(hparams):
    """Builds the training and BatchNorm data and the ASV lists.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters.

    Returns
    -------
    data : dict
        From ``speaker_data.speaker_dataio``.
    """
    return speaker_dataio(
        hparams["data_folder"],
        hparams["train_csv"],
        {
            "dev": (hparams["dev_enrol_csv"], hparams["dev_trials_csv"]),
            "eval": (hparams["eval_enrol_csv"], hparams["eval_trials_csv"]),
        },
        n_speakers=hparams["n_train_speakers"],
        seed=hparams["seed"],
        bonafide_only=hparams["bonafide_only"],
        max_items=hparams["train_max_items"],
        holdout_fraction=hparams["holdout_fraction"],
        sample_rate=hparams["sample_rate"],
        train_crop=hparams["train_crop"],
        eval_max_duration=hparams["eval_max_duration"],
        eval_opts=hparams["eval_dataloader_opts"],
        bn_items=hparams["bn_recalibration_items"],
        dev_max_trials=hparams["dev_max_trials"],
    )


def main():
    """Runs the speaker-KD stage from the command line."""
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    kd = check_kd_loss(hparams["kd_loss"])
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
    data = dataio_prepare(hparams)
    teacher_checkpoint = load_teacher(hparams, data["speakers"])
    brain = SpeakerKDBrain(
        hparams["teacher"],
        hparams["teacher_classifier"],
        hparams["kd_loss"],
        modules=build_modules(hparams),
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.attach(
        data["asv"]["dev"]["enrol"],
        data["asv"]["dev_selection"],
        data["bn_loader"],
        hparams["lr_annealing"],
        hparams["train_logger"],
    )
    brain.fit(
        brain.hparams.epoch_counter,
        data["train_set"],
        asv_dataset(
            brain.dev_enrol,
            brain.dev_trials,
            hparams["sample_rate"],
            hparams["eval_max_duration"],
        ),
        train_loader_kwargs=dict(hparams["train_dataloader_opts"]),
        valid_loader_kwargs=dict(hparams["eval_dataloader_opts"]),
    )
    write_final_outputs(brain, hparams, data, teacher_checkpoint, kd)


if __name__ == "__main__":
    main()
