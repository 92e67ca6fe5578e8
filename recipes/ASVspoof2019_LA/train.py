#!/usr/bin/env python3
"""Stages 3-5 of adversarial speaker distillation: the countermeasure Brains.

``CMBrain`` fine-tunes a ResNetSE on the 8 classes (bona fide, A01-A06,
adversarial) with NLL and on-the-fly augmentation (noise, reverberation):
the teacher stage (``hparams/teacher.yaml``: G-ResNetSE initialised from
the GE2E stage), or a student trained alone. ``DistillationBrain`` trains
the student L-ResNetSE from a frozen teacher with the YAML's ``kd_loss``
(``hparams/student.yaml``; ``kd_loss: null`` trains it alone). Both take
the same options:

* ``aeg: none | static | active``: no adversarial examples; the set written
  once by ``generate_aeg.py``; or a set regenerated with the current model
  before every epoch (``speechbrain_asd.data.active_aeg.ActiveAEG``, given
  to the Brain; its epoch's set is checkpointed, so a run resumed mid-epoch
  reuses it).
* ``self_distill: True``: auxiliary exits after the first stages learn from
  the deepest one (``SelfDistillationLoss``); they are dropped at export.

Every epoch ends with the dev EER, the key of checkpoint selection
(``dev_eer``, lowest best). At the end the best checkpoint scores eval: an
ASVspoof score file, pooled and per-attack EER and min t-DCF (2019 and
2021 forms, with the ASV scores ``asv_scores_eval``), ``eval_report.json``
and ``model_info.json`` (model arguments, class names, metrics).

Run from this folder::

    python train.py hparams/teacher.yaml --data_folder=/path/to/ASVspoof2019
    python train.py hparams/student.yaml --data_folder=/path/to/ASVspoof2019

Authors
 * speechbrain-asd developers
"""

import copy
import os
import sys

import speechbrain as sb
import torch
import torch.nn.functional as F
from asvspoof_dataio import (
    load_rows,
    make_audio_pipeline,
    make_dataset,
    merge_rows,
    select_subset,
    sorted_by_duration,
    write_augmentation_csv,
)
from asvspoof_prepare import prepare_asvspoof
from asvspoof_stages import (
    ModelMethod,
    StageBrain,
    read_json,
    set_epoch_lr,
    write_json,
)
from cm_scoring import (
    DevScores,
    ScoreCollector,
    cm_intervals,
    cm_results,
    format_operating_point,
    load_asv_scores,
    operating_point,
    split_scores,
    write_score_file,
)
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.utils.distributed import if_main_process, run_on_main
from speechbrain.utils.logger import get_logger

from speechbrain_asd.calibration import fit_calibration
from speechbrain_asd.checkpoints import (
    best_checkpoint,
    load_pretrained,
    save_best_model,
)
from speechbrain_asd.data.active_aeg import ActiveAEG
from speechbrain_asd.data.adversarial import make_same_speaker_pairs
from speechbrain_asd.data.asvspoof import CLASS_NAMES
from speechbrain_asd.evaluation import (
    evaluate_score_file,
    find_2021_keys,
    format_decomposed_table,
    format_report_table,
)
from speechbrain_asd.export import MODEL_INFO_FILE
from speechbrain_asd.features import waveform_embedder
from speechbrain_asd.lobes.complexity import count_macs, count_parameters
from speechbrain_asd.lobes.resnet_se import ResNetSE
from speechbrain_asd.lobes.score import bonafide_score
from speechbrain_asd.losses import DecoupledKDLoss, KDLoss
from speechbrain_asd.metrics import compute_act_dcf, compute_cllr
from speechbrain_asd.model_folder import CALIBRATION_FILE
from speechbrain_asd.scorefiles import write_cm_scores

logger = get_logger(__name__)

MIN_KEY = "dev_eer"
DEV_SCORES_KEY = "dev_scores"
AEG_MODES = ("none", "static", "active")
GE2E_KEY = "dev_speaker_eer"
MACS_SECONDS = 4.0


class CMBrain(StageBrain):
    """Trains a ResNetSE countermeasure on the 8 classes with NLL.

    ``modules`` holds ``compute_features`` and either ``model`` (its
    ``forward`` gives the logits) or, with self-distillation, ``exits`` (the
    model's ``forward_exits``) and ``sd_loss`` (the projections of the
    self-distillation loss). Dev and eval passes collect the bona fide
    score of every utterance.

    Arguments
    ---------
    active_aeg : speechbrain_asd.data.active_aeg.ActiveAEG, optional
        Regenerates the adversarial set before every epoch (active AEG).
    **kwargs : dict
        Arguments of ``speechbrain.Brain``.
    """

    def __init__(self, active_aeg=None, **kwargs):
        """Builds the Brain; active AEG's sampler draws the training data;
        each checkpoint keeps its dev scores."""
        super().__init__(**kwargs)
        self.active_aeg = active_aeg
        self.dev_scores = DevScores()
        if self.checkpointer is not None:
            # Optional: checkpoints of earlier versions do not hold them.
            self.checkpointer.add_recoverable(
                DEV_SCORES_KEY, self.dev_scores, optional_load=True
            )
        if active_aeg is not None:
            self.train_sampler = active_aeg.sampler

    def prepare_features(self, batch, stage):
        """Augments (training only) and computes the log-Mel features.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Waveforms ``sig``.
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.

        Returns
        -------
        feats : torch.Tensor
            Features, shape [batch, frames, n_mels].
        lens : torch.Tensor
            Relative lengths in frames, shape [batch].
        """
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        if stage == sb.Stage.TRAIN and self.hparams.augment:
            wavs, lens = self.hparams.wav_augment(wavs, lens)
        return self.modules.compute_features.with_frame_lengths(wavs, lens)

    def forward_model(self, feats, lens, stage):
        """Runs the model being trained.

        Arguments
        ---------
        feats : torch.Tensor
            Features, shape [batch, frames, n_mels].
        lens : torch.Tensor
            Relative lengths, shape [batch].
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.

        Returns
        -------
        outputs : torch.Tensor or list
            Logits [batch, 8]; in training with self-distillation, the
            ``(logits, feature)`` pair of every exit.
        """
        if not self.hparams.self_distill:
            return self.modules.model(feats, lens)
        exits = self.modules.exits(feats, lens)
        return exits if stage == sb.Stage.TRAIN else exits[-1][0]

    def compute_forward(self, batch, stage):
        """Computes the outputs of the model.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Waveforms ``sig`` and labels ``class_index``.
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.

        Returns
        -------
        outputs : torch.Tensor or list
            See ``forward_model``.
        """
        feats, lens = self.prepare_features(batch, stage)
        return self.forward_model(feats, lens, stage)

    def targets(self, batch, stage):
        """The class indices of a batch, repeated as the augmentation did.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Labels ``class_index``.
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.

        Returns
        -------
        targets : torch.Tensor
            Shape [batch], -1 for attacks outside the 8 classes.
        """
        targets = batch.class_index.data[:, 0].to(self.device)
        if stage == sb.Stage.TRAIN and self.hparams.augment:
            targets = self.hparams.wav_augment.replicate_labels(targets)
        return targets

    def student_loss(self, outputs, targets):
        """NLL of the model, or the self-distillation loss with exits.

        Arguments
        ---------
        outputs : torch.Tensor or list
            From ``forward_model`` in training.
        targets : torch.Tensor
            Class indices, shape [batch].

        Returns
        -------
        loss : torch.Tensor
            Scalar loss.
        """
        if self.hparams.self_distill:
            return self.modules.sd_loss(outputs, targets)
        return F.cross_entropy(outputs, targets)

    def compute_objectives(self, predictions, batch, stage):
        """Training loss; on dev/eval, NLL of the labelled utterances.

        Arguments
        ---------
        predictions : torch.Tensor or list
            From ``compute_forward``.
        batch : speechbrain.dataio.batch.PaddedBatch
            The batch.
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.

        Returns
        -------
        loss : torch.Tensor
            Scalar loss.
        """
        targets = self.targets(batch, stage)
        if stage == sb.Stage.TRAIN:
            return self.student_loss(predictions, targets)
        self.collector.append(batch.id, bonafide_score(predictions))
        known = targets >= 0
        if not bool(known.any()):
            return torch.zeros((), device=self.device)
        return F.cross_entropy(predictions[known], targets[known])

    def on_stage_start(self, stage, epoch=None):
        """Sets the learning rate and the adversarial set of the epoch.

        Arguments
        ---------
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.
        epoch : int, optional
            The epoch.
        """
        if stage != sb.Stage.TRAIN:
            self.collector = ScoreCollector()
            return
        self.lr = set_epoch_lr(self.optimizer, self.hparams.lr_annealing, epoch)
        if self.active_aeg is not None:
            self.active_aeg.refresh(
                epoch,
                waveform_embedder(
                    self.hparams.compute_features, self.hparams.model
                ),
                [self.hparams.model],
                device=self.device,
                progress=not self.noprogressbar,
            )

    def on_fit_batch_start(self, batch, should_step):
        """Warms the learning rate up over the first ``lr_warmup_steps``.

        Adam's first steps move every weight by about the learning rate in
        the direction of its gradient's sign; on the pre-trained teacher at
        lr 1e-3 the second batch's loss jumped to ~3x chance. A linear ramp
        from ``lr / lr_warmup_steps`` to the epoch's ``lr`` avoids it.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            The batch about to be trained on.
        should_step : bool
            Whether the optimiser steps after this batch.
        """
        warmup = self.hparams.lr_warmup_steps
        if self.optimizer_step < warmup:
            factor = (self.optimizer_step + 1) / warmup
            sb.nnet.schedulers.update_learning_rate(
                self.optimizer, self.lr * factor
            )

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs the epoch, checkpoints on the dev EER, keeps eval scores.

        Arguments
        ---------
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.
        stage_loss : float
            Average loss of the stage.
        epoch : int, optional
            The epoch.
        """
        if stage == sb.Stage.TRAIN:
            self.train_loss = stage_loss
            return
        if stage == sb.Stage.TEST:
            self.test_scores = dict(self.collector.scores)
            return
        self.dev_scores.scores = dict(self.collector.scores)
        results = cm_results(self.collector.scores, self.dev_rows, self.asv_dev)
        meta = {
            MIN_KEY: results["eer"],
            "dev_min_tdcf_2019": results["min_tdcf_2019"],
            "dev_min_tdcf_2021": results["min_tdcf_2021"],
        }
        stats_meta = {"epoch": epoch, "lr": self.lr}
        if self.active_aeg is not None:
            stats_meta["adversarial"] = self.active_aeg.n_active
        valid_stats = {"loss": stage_loss, "EER": 100 * results["eer"]}
        if results["min_tdcf_2021"] is not None:
            valid_stats["min_tDCF_2021"] = results["min_tdcf_2021"]
        self.hparams.train_logger.log_stats(
            stats_meta=stats_meta,
            train_stats={"loss": self.train_loss},
            valid_stats=valid_stats,
        )
        self.checkpointer.save_and_keep_only(meta=meta, min_keys=[MIN_KEY])


class DistillationBrain(CMBrain):
    """Distils a frozen teacher into the model being trained (the student).

    The teacher is kept outside ``modules``, so that Brain never puts it in
    training mode, never optimises it and never checkpoints it: it stays in
    eval mode without gradients and sees the same augmented features as the
    student. ``kd_loss`` (e.g. Hinton or decoupled KD) mixes the distillation
    term with the student's NLL; with self-distillation, the exits' terms
    are added on top.

    Arguments
    ---------
    teacher : torch.nn.Module
        The trained teacher (logits from ``forward``).
    kd_loss : torch.nn.Module
        ``kd_loss(student_logits, teacher_logits, targets)``.
    **kwargs : dict
        Arguments of ``speechbrain.Brain``.
    """

    def __init__(self, teacher, kd_loss, **kwargs):
        """Stores the teacher and the KD loss, then builds the Brain."""
        super().__init__(**kwargs)
        self.teacher = teacher.to(self.device).eval().requires_grad_(False)
        self.kd_loss = kd_loss

    def compute_forward(self, batch, stage):
        """Student outputs, plus the teacher's logits in training.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            The batch.
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.

        Returns
        -------
        predictions : torch.Tensor or tuple
            As ``CMBrain``'s outside training; in training
            ``(student outputs, teacher logits)``.
        """
        feats, lens = self.prepare_features(batch, stage)
        outputs = self.forward_model(feats, lens, stage)
        if stage != sb.Stage.TRAIN:
            return outputs
        with torch.no_grad():
            teacher_logits = self.teacher(feats, lens)
        return outputs, teacher_logits

    def compute_objectives(self, predictions, batch, stage):
        """KD loss in training; as ``CMBrain`` on dev/eval.

        Arguments
        ---------
        predictions : torch.Tensor or tuple
            From ``compute_forward``.
        batch : speechbrain.dataio.batch.PaddedBatch
            The batch.
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.

        Returns
        -------
        loss : torch.Tensor
            Scalar loss.
        """
        if stage != sb.Stage.TRAIN:
            return super().compute_objectives(predictions, batch, stage)
        outputs, teacher_logits = predictions
        targets = self.targets(batch, stage)
        if not self.hparams.self_distill:
            return self.kd_loss(outputs, teacher_logits, targets)
        logits = outputs[-1][0]
        extra = self.modules.sd_loss(outputs, targets)
        # sd_loss holds the deepest exit's NLL, which kd_loss already has.
        extra = extra - F.cross_entropy(logits, targets)
        return self.kd_loss(logits, teacher_logits, targets) + extra

    def on_fit_start(self):
        """Keeps the teacher frozen in eval mode on the Brain's device."""
        super().on_fit_start()
        self.teacher.to(self.device).eval()


def check_options(hparams):
    """Validates the AEG mode before anything runs.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters.

    Returns
    -------
    aeg : str
        The AEG mode.
    """
    aeg = hparams["aeg"]
    if aeg not in AEG_MODES:
        raise ValueError(f"aeg must be one of {AEG_MODES}, got {aeg!r}")
    return aeg


def build_modules(hparams):
    """The Brain's modules for plain or self-distillation training.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters (``modules`` holds compute_features,
        model and sd_loss).

    Returns
    -------
    modules : dict
        ``compute_features`` and ``model``; with self-distillation,
        ``exits`` (the model's ``forward_exits``) and ``sd_loss`` instead
        of ``model``.
    """
    modules = dict(hparams["modules"])
    sd_loss = modules.pop("sd_loss")
    if hparams["self_distill"]:
        modules["exits"] = ModelMethod(modules.pop("model"), "forward_exits")
        modules["sd_loss"] = sd_loss
    return modules


def augmentation_csvs(hparams):
    """Lists the noise and RIR folders into the CSVs that augmentation reads.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters.
    """
    if not hparams["augment"]:
        return
    write_augmentation_csv(hparams["noise_folder"], hparams["noise_csv"])
    write_augmentation_csv(hparams["rir_folder"], hparams["rir_csv"])


def dataio_prepare(hparams, aeg):
    """Reads the manifests into the datasets of the stage.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters.
    aeg : str
        The AEG mode.

    Returns
    -------
    data : dict
        ``train_set``, ``dev_set``, ``eval_set`` (datasets), ``dev_rows``,
        ``eval_rows`` (manifest rows), ``eval_2021_set`` and
        ``eval_2021_rows`` when ``eval_2021_folder`` is set, and
        ``active_aeg`` (an ``ActiveAEG`` for active AEG, else None).
    """
    folder, seed = hparams["data_folder"], hparams["seed"]
    train_rows = select_subset(
        load_rows(hparams["train_csv"], folder),
        hparams["train_max_items"],
        "system",
        seed,
    )
    data = {"train_rows": train_rows, "active_aeg": None}
    if aeg == "static":
        if not os.path.isfile(hparams["adversarial_csv"]):
            raise FileNotFoundError(
                f"aeg: static needs the set of generate_aeg.py, but "
                f"{hparams['adversarial_csv']} does not exist (run that "
                "stage, set adversarial_csv, or choose aeg: none/active)"
            )
        adversarial = load_rows(hparams["adversarial_csv"], folder)
        if not adversarial:
            logger.warning("Static AEG: the adversarial set is empty")
        logger.info("Static AEG: %d adversarial examples", len(adversarial))
        train_rows = merge_rows(train_rows, adversarial)
    elif aeg == "active":
        active_aeg = ActiveAEG(
            make_same_speaker_pairs(
                train_rows, hparams["aeg_n_pairs"], seed=seed
            ),
            hparams["active_aeg_folder"],
            n_fixed=len(train_rows),
            options=hparams["aeg_options"],
            seed=seed,
        )
        data["active_aeg"] = active_aeg
        train_rows = merge_rows(train_rows, active_aeg.slot_rows)
    rate = hparams["sample_rate"]
    train_pipeline = make_audio_pipeline(rate, hparams["train_crop"], True)
    eval_pipeline = make_audio_pipeline(rate, hparams["eval_max_duration"])
    data["train_set"] = make_dataset(train_rows, train_pipeline)
    splits = {
        "dev": (hparams["dev_csv"], hparams["dev_max_items"]),
        "eval": (hparams["eval_csv"], hparams["eval_max_items"]),
    }
    for split, (csv_path, max_items) in splits.items():
        rows = select_subset(
            load_rows(csv_path, folder), max_items, "system", seed
        )
        data[f"{split}_rows"] = rows
        data[f"{split}_set"] = sorted_by_duration(
            make_dataset(rows, eval_pipeline)
        )
    if hparams["eval_2021_folder"] is not None:
        rows = load_rows(
            hparams["eval_2021_csv"], folder, hparams["eval_2021_folder"]
        )
        data["eval_2021_rows"] = rows
        data["eval_2021_set"] = sorted_by_duration(
            make_dataset(rows, eval_pipeline)
        )
    return data


def initialise_from_ge2e(hparams, train_set):
    """Loads the GE2E stage's best model (``ge2e_pretrainer``) into the
    model, at a fresh model's scale.

    Every key is checked. GE2E scores cosines, so the
    scale of its embeddings is free, and pre-training inflates it: the new
    8-class head would start with large logits, and each Adam step on it
    would move them by as much. The embedding layer is therefore rescaled
    so that the mean embedding norm on the first training batch, in train
    mode, equals that of the freshly initialised model; the GE2E model's
    cosines, so its speaker scores, are unchanged.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters (``ge2e_pretrainer``, ``model``,
        ``compute_features``, ``batch_size``).
    train_set : speechbrain.dataio.dataset.DynamicItemDataset
        The training data (waveforms ``sig``).
    """
    model = hparams["model"]
    count = min(hparams["batch_size"], len(train_set))
    batch = PaddedBatch([train_set[index] for index in range(count)])
    feats, lens = hparams["compute_features"].with_frame_lengths(*batch.sig)
    fresh_norm = mean_embedding_norm(model, feats, lens)
    load_pretrained(hparams["ge2e_pretrainer"])
    scale = fresh_norm / mean_embedding_norm(model, feats, lens)
    with torch.no_grad():
        model.embedding.weight.mul_(scale)
        model.embedding.bias.mul_(scale)
    logger.info(
        "Initialised from %s (embedding scaled by %.3f)",
        hparams["ge2e_pretrainer"].paths["model"],
        scale,
    )


def mean_embedding_norm(model, feats, lens):
    """Mean L2 norm of a model's embeddings of a batch, as training sees it.

    The model runs in train mode (BatchNorm on the batch's statistics, the
    scale the new head meets during fine-tuning) on a copy, so that its
    running statistics and mode are left untouched.

    Arguments
    ---------
    model : ResNetSE
        The model.
    feats : torch.Tensor
        Features, shape [batch, frames, n_mels].
    lens : torch.Tensor
        Relative lengths, shape [batch].

    Returns
    -------
    float
        The mean norm.
    """
    replica = copy.deepcopy(model).train()
    with torch.no_grad():
        return replica.embed(feats, lens).norm(dim=1).mean().item()


def make_train_loader(brain, data, hparams):
    """Training data for ``fit``: a dataset, or active AEG's own loader.

    Arguments
    ---------
    brain : CMBrain
        The Brain (its checkpointer gets the active AEG state).
    data : dict
        From ``dataio_prepare``.
    hparams : dict
        The loaded hyperparameters.

    Returns
    -------
    train : Dataset or DataLoader
        What ``fit`` trains on.
    """
    active_aeg = data["active_aeg"]
    if active_aeg is None:
        return data["train_set"]
    loader = active_aeg.make_loader(
        data["train_set"], **hparams["train_dataloader_opts"]
    )
    brain.checkpointer.add_recoverable("dataloader-TRAIN", loader)
    brain.checkpointer.add_recoverable("active_aeg", active_aeg.sampler)
    return loader


def model_summary(model_kwargs):
    """Size of the deployable model: parameters and MACs on 4 s.

    Arguments
    ---------
    model_kwargs : dict
        ``ResNetSE`` keyword arguments (exits excluded).

    Returns
    -------
    summary : dict
        ``params`` and ``macs``.
    """
    model = ResNetSE(**model_kwargs)
    frames = int(round(MACS_SECONDS * 100))
    return {
        "params": count_parameters(model),
        "macs": count_macs(model, frames, model_kwargs["n_mels"]),
    }


def kd_name(kd_loss):
    """The name a report gives a KD loss (``none`` without one).

    Arguments
    ---------
    kd_loss : torch.nn.Module or None
        The student's KD loss.

    Returns
    -------
    name : str
        ``hinton``, ``decoupled``, the class name of another loss, or
        ``none``.
    """
    if kd_loss is None:
        return "none"
    names = {KDLoss: "hinton", DecoupledKDLoss: "decoupled"}
    return names.get(type(kd_loss), type(kd_loss).__name__)


def calibration_report(dev_scores, eval_scores, data, hparams):
    """Fits the calibration on dev scores, writes ``calibration.json``, and
    says what it does to eval's actDCF and Cllr.

    Arguments
    ---------
    dev_scores : dict
        ID -> raw score of the best checkpoint on dev.
    eval_scores : dict
        ID -> raw score on eval.
    data : dict
        From ``dataio_prepare`` (``dev_rows``, ``eval_rows``).
    hparams : dict
        The loaded hyperparameters.

    Returns
    -------
    calibration : speechbrain_asd.calibration.Calibration
        The fitted calibration.
    report : dict
        Its fields, eval's ``act_dcf`` and ``cllr`` of the raw and the
        calibrated scores, and eval's error rates at its threshold.
    """
    dev_bonafide, dev_spoof, _ = split_scores(dev_scores, data["dev_rows"])
    calibration = fit_calibration(
        dev_bonafide,
        dev_spoof,
        rule=hparams["calibration_rule"],
        target_spoof_far=hparams["calibration_spoof_far"],
    )
    path = os.path.join(hparams["output_folder"], CALIBRATION_FILE)
    write_json(path, calibration.to_dict())
    bonafide, spoof, _ = split_scores(eval_scores, data["eval_rows"])
    calibrated = (calibration.llr(bonafide), calibration.llr(spoof))
    report = {
        **calibration.to_dict(),
        "eval_raw": {
            "act_dcf": compute_act_dcf(bonafide, spoof),
            "cllr": compute_cllr(bonafide, spoof),
        },
        "eval_calibrated": {
            "act_dcf": compute_act_dcf(*calibrated),
            "cllr": compute_cllr(*calibrated),
        },
        "eval_operating_point": operating_point(calibration, bonafide, spoof),
    }
    logger.info(
        "Calibration (dev) -> %s; eval actDCF %.4f -> %.4f, Cllr %.4f -> "
        "%.4f bits",
        path,
        report["eval_raw"]["act_dcf"],
        report["eval_calibrated"]["act_dcf"],
        report["eval_raw"]["cllr"],
        report["eval_calibrated"]["cllr"],
    )
    print(format_operating_point(report["eval_operating_point"], "eval"))
    return calibration, report


def score_dataset(brain, dataset, hparams):
    """Scores a dataset with the best checkpoint.

    Arguments
    ---------
    brain : CMBrain
        The trained Brain.
    dataset : speechbrain.dataio.dataset.DynamicItemDataset
        The utterances to score.
    hparams : dict
        The loaded hyperparameters.

    Returns
    -------
    dict
        ID -> bona fide score.
    """
    brain.evaluate(
        dataset,
        min_key=MIN_KEY,
        test_loader_kwargs=dict(hparams["eval_dataloader_opts"]),
    )
    return dict(brain.test_scores)


def best_dev_scores(best, brain, data, hparams):
    """The dev scores of the best checkpoint: those it saved at its
    validation, or (a checkpoint without them) a new pass over dev.

    Arguments
    ---------
    best : speechbrain.utils.checkpoints.Checkpoint
        The best checkpoint.
    brain : CMBrain
        The trained Brain.
    data : dict
        From ``dataio_prepare`` (``dev_set``, ``dev_rows``).
    hparams : dict
        The loaded hyperparameters.

    Returns
    -------
    dict
        ID -> bona fide score of every dev utterance.
    """
    path = best.paramfiles.get(DEV_SCORES_KEY)
    if path is not None:
        scores = DevScores.read(path)
        if scores.keys() == data["dev_rows"].keys():
            return scores
        logger.info("%s holds other dev utterances: scoring dev", path)
    return score_dataset(brain, data["dev_set"], hparams)


def evaluate_2021(scores, data, hparams, calibration):
    """Writes the ASVspoof 2021 LA eval scores and evaluates them as the
    organisers do (subset ``eval_2021_subset``, decomposed by codec).

    Arguments
    ---------
    scores : dict
        ID -> bona fide score of every 2021 trial.
    data : dict
        From ``dataio_prepare`` (``eval_2021_set``, ``eval_2021_rows``).
    hparams : dict
        The loaded hyperparameters.
    calibration : speechbrain_asd.calibration.Calibration
        The dev calibration.

    Returns
    -------
    dict
        ``evaluation.evaluate_score_file``'s report of the 2021 scores, with
        the calibrated operating point of the subset.
    """
    path = hparams["score_file_2021"]
    write_cm_scores(path, scores)
    keys = find_2021_keys(hparams["eval_2021_folder"])
    subset = hparams["eval_2021_subset"]
    report = evaluate_score_file(
        path,
        keys["protocol"],
        asv_scores_path=keys["asv_scores_path"],
        asv_metadata_path=keys["asv_metadata"],
        subset=subset,
    )
    rows = {
        utt_id: row
        for utt_id, row in data["eval_2021_rows"].items()
        if subset is None or row["subset"] == subset
    }
    bonafide, spoof, _ = split_scores(scores, rows)
    report["operating_point"] = operating_point(calibration, bonafide, spoof)
    print(f"ASVspoof 2021 LA eval (subset {subset}), pooled per codec:")
    print(format_decomposed_table(report["decomposed"], compact=True))
    print(format_operating_point(report["operating_point"], "2021 eval"))
    return report


def evaluate_and_report(brain, data, hparams):
    """Scores eval with the best checkpoint and writes the stage's reports.

    Writes the ASVspoof score file, ``eval_report.json`` (with the
    bootstrap intervals of ``cm_intervals``) and ``model_info.json``, and
    prints the pooled and per-attack table. Done
    again only when the best checkpoint changed since the last report.

    Arguments
    ---------
    brain : CMBrain
        The trained Brain.
    data : dict
        From ``dataio_prepare``.
    hparams : dict
        The loaded hyperparameters.
    """
    if if_main_process():
        save_best_model(hparams["save_folder"], hparams["best_model"], MIN_KEY)
    best = best_checkpoint(hparams["save_folder"], MIN_KEY)
    report_path = os.path.join(hparams["output_folder"], "eval_report.json")
    if os.path.isfile(report_path):
        previous = read_json(report_path)
        if previous.get("checkpoint") == best.path.name:
            logger.info("eval_report.json is up to date (%s)", best.path.name)
            return
    dev_scores = best_dev_scores(best, brain, data, hparams)
    eval_scores = score_dataset(brain, data["eval_set"], hparams)
    scores_2021 = None
    if "eval_2021_set" in data:
        scores_2021 = score_dataset(brain, data["eval_2021_set"], hparams)
    asv_eval = load_asv_scores(hparams["asv_scores_eval"], "eval")
    results = cm_results(eval_scores, data["eval_rows"], asv_eval)
    if not if_main_process():
        return
    print(format_report_table(results["report"]))
    write_score_file(hparams["score_file"], eval_scores, data["eval_rows"])
    write_score_file(hparams["dev_score_file"], dev_scores, data["dev_rows"])
    calibration, calibration_summary = calibration_report(
        dev_scores, eval_scores, data, hparams
    )
    kwargs = dict(hparams["model"].config, aux_exits=False)
    metrics = {
        "dev_eer": best.meta[MIN_KEY],
        "dev_min_tdcf_2019": best.meta["dev_min_tdcf_2019"],
        "dev_min_tdcf_2021": best.meta["dev_min_tdcf_2021"],
        "eval_eer": results["eer"],
        "eval_eer_seen": results["eer_seen"],
        "eval_eer_unseen": results["eer_unseen"],
        "min_tdcf_2019": results["min_tdcf_2019"],
        "min_tdcf_2021": results["min_tdcf_2021"],
    }
    report = {
        "name": hparams["run_name"],
        "checkpoint": best.path.name,
        "aeg": hparams["aeg"],
        "kd": kd_name(hparams.get("kd_loss")),
        "self_distill": hparams["self_distill"],
        **model_summary(kwargs),
        **metrics,
        "score_file": os.path.abspath(hparams["score_file"]),
        "intervals": cm_intervals(
            eval_scores,
            data["eval_rows"],
            asv_eval,
            n_resamples=hparams["eval_bootstrap"],
        ),
        "eval": results["report"],
        "calibration": calibration_summary,
    }
    if scores_2021 is not None:
        report["eval_2021"] = evaluate_2021(
            scores_2021, data, hparams, calibration
        )
    write_json(report_path, report)
    info = {
        "model_kwargs": kwargs,
        "class_names": list(CLASS_NAMES),
        "sample_rate": hparams["sample_rate"],
        "name": hparams["run_name"],
        "metrics": metrics,
    }
    write_json(os.path.join(hparams["output_folder"], MODEL_INFO_FILE), info)
    eer = report["intervals"]["eer"]
    logger.info(
        "%s: dev EER %.2f %%, eval EER %.2f %% (95 %% interval %.2f-%.2f) "
        "-> %s",
        hparams["run_name"],
        100 * metrics["dev_eer"],
        100 * metrics["eval_eer"],
        100 * eer["trial"][0],
        100 * eer["trial"][1],
        report_path,
    )


def main():
    """Runs the teacher or student stage from the command line."""
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    aeg = check_options(hparams)
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
            "eval_2021_folder": hparams["eval_2021_folder"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    run_on_main(augmentation_csvs, kwargs={"hparams": hparams})
    data = dataio_prepare(hparams, aeg)
    if hparams.get("ge2e_init", False):
        initialise_from_ge2e(hparams, data["train_set"])
    brain_kwargs = dict(
        active_aeg=data["active_aeg"],
        modules=build_modules(hparams),
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    if hparams.get("kd_loss") is None:
        brain = CMBrain(**brain_kwargs)
    else:
        load_pretrained(hparams["teacher_pretrainer"])
        brain = DistillationBrain(
            hparams["teacher"], hparams["kd_loss"], **brain_kwargs
        )
    brain.dev_rows = data["dev_rows"]
    brain.asv_dev = load_asv_scores(hparams["asv_scores_dev"], "dev")
    brain.fit(
        brain.hparams.epoch_counter,
        make_train_loader(brain, data, hparams),
        data["dev_set"],
        train_loader_kwargs=dict(hparams["train_dataloader_opts"]),
        valid_loader_kwargs=dict(hparams["eval_dataloader_opts"]),
    )
    evaluate_and_report(brain, data, hparams)


if __name__ == "__main__":
    main()
