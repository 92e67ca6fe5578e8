#!/usr/bin/env python3
"""SEEF-ALDR: a speaker encoder enhanced by a disentangled representation.

From "SEEF-ALDR: A Speaker Embedding Enhancement Framework via Adversarial
Learning based Disentangled Representation" (ACSAC 2020). The purifying
encoder E_p (G-ResNetSE, optionally started from the GE2E stage) learns the
training speakers through a speaker classifier; the eliminating encoder E_e
encodes the same log-Mel input into a feature from which an adversarial
classifier C_adv must fail to name the speaker (``L_adv^s`` trains C_adv,
``L_adv^e`` trains E_e against it); the decoder D_r rebuilds the input from
both (``L_rec``). Each batch takes one step of everything but C_adv, then
``adv_steps`` steps of C_adv, with its own optimiser, on the batch's
detached E_e features. After every epoch the speaker EER on the dev ASV
trials, with the embedding ``verify_with`` names, selects the checkpoint.
At the end the best checkpoint scores every dev and eval ASV trial
(ASVspoof 2019 ASV score files, ``asv_scores/``) and ``asv_report.json``
gives the ASV EER and minDCF of both embeddings and the accuracy of both
classifiers on held-out utterances of the training speakers. Switches
(``use_eliminating``, ``use_reconstruction``, ...) give the ablation rows.

Run from this folder::

    python train_seef_aldr.py hparams/seef_aldr.yaml \\
        --data_folder=/path/to/ASVspoof2019

Authors
 * speechbrain-asd developers
"""

import os
import sys

import speechbrain as sb
import torch
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
from train import initialise_from_ge2e

from speechbrain_asd.checkpoints import best_checkpoint, save_best_model
from speechbrain_asd.checks import check_choice
from speechbrain_asd.losses import adversary_loss
from speechbrain_asd.scorefiles import write_asv_scores

logger = get_logger(__name__)

EMBEDDINGS = ("purifying", "eliminating")
CLASSIFIERS = {
    "purifying": "speaker_classifier",
    "eliminating": "adv_classifier",
}


class SEEFALDRBrain(SpeakerEncoderBrain):
    """Trains E_p, E_e, the speaker classifier and D_r against C_adv.

    ``modules`` holds ``compute_features``, ``embedder`` (E_p's ``embed``),
    ``speaker_classifier`` and, as the switches ask, ``eliminating_encoder``,
    ``adv_classifier`` and ``decoder``. One optimiser (``opt_class``) trains
    every module but C_adv; C_adv has its own (``adv_opt_class``), and
    both are checkpointed. Dev and eval passes store both embeddings of
    every utterance; ``main`` attaches the dev lists and ``bn_loader``
    (training crops for the BatchNorm statistics) and sets
    ``holdout_loader`` (held-out utterances of the training speakers).
    """

    @property
    def eliminating_source(self):
        """``"encoder"``, ``"random"`` or None: what stands for E_e."""
        if not self.hparams.use_eliminating:
            return None
        if self.hparams.random_eliminating_vector:
            return "random"
        return "encoder"

    @property
    def trains_adversary(self):
        """Whether C_adv learns (``L_adv^s`` on E_e's features)."""
        return (
            self.eliminating_source == "encoder"
            and self.hparams.seef_loss.trains_adversary
        )

    def on_fit_start(self):
        """Refuses gradient accumulation, then starts as StageBrain does."""
        if self.grad_accumulation_factor != 1:
            raise ValueError(
                "the alternating SEEF-ALDR steps need grad_accumulation_factor"
                f" 1, got {self.grad_accumulation_factor}"
            )
        super().on_fit_start()

    def init_optimizers(self):
        """One optimiser for every module but C_adv, one for C_adv."""
        params = [
            param
            for name, module in self.modules.items()
            if name != "adv_classifier"
            for param in module.parameters()
        ]
        self.optimizer = self.opt_class(params)
        self.optimizers_dict = {"optimizer": self.optimizer}
        self.adv_optimizer = None
        if self.trains_adversary:
            self.adv_optimizer = self.hparams.adv_opt_class(
                self.modules.adv_classifier.parameters()
            )
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)
            if self.adv_optimizer is not None:
                self.checkpointer.add_recoverable(
                    "adv_optimizer", self.adv_optimizer
                )

    def compute_forward(self, batch, stage):
        """Computes the log-Mel features and the encoders' outputs.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Waveforms ``sig``.
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.

        Returns
        -------
        outputs : dict
            ``feats`` [batch, frames, n_mels], ``lengths`` (relative, in
            frames), ``purifying`` [batch, emb_dim] and, with E_e,
            ``eliminating`` [batch, eliminating_dim].
        """
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        feats, lengths = self.modules.compute_features.with_frame_lengths(
            wavs, lens
        )
        outputs = {
            "feats": feats,
            "lengths": lengths,
            "purifying": self.modules.embedder(feats, lengths),
        }
        if self.eliminating_source == "encoder":
            outputs["eliminating"] = self.modules.eliminating_encoder(
                feats, lengths
            )
        return outputs

    def compute_objectives(self, predictions, batch, stage):
        """The weighted SEEF-ALDR objective in training; stores the
        embeddings otherwise.

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
            for name in EMBEDDINGS:
                if name in predictions:
                    self.store_embeddings(
                        self.embeddings[name], batch.id, predictions[name]
                    )
            return torch.zeros((), device=self.device)
        purifying = predictions["purifying"]
        eliminating = predictions.get("eliminating")
        reconstruction = None
        if self.hparams.use_reconstruction:
            vectors = torch.cat([purifying, self.decoder_part(predictions)], 1)
            reconstruction = self.modules.decoder(
                vectors, predictions["feats"].shape[1], predictions["lengths"]
            )
        loss, parts = self.hparams.seef_loss(
            self.modules.speaker_classifier(purifying),
            batch.spk_index.data,
            adversary=getattr(self.modules, "adv_classifier", None),
            eliminating=eliminating,
            reconstruction=reconstruction,
            feats=predictions["feats"],
            lengths=predictions["lengths"],
        )
        for name, value in parts.items():
            self.train_parts[name] = self.train_parts.get(name, 0.0) + value
        self.train_parts["batches"] = self.train_parts.get("batches", 0) + 1
        return loss

    def decoder_part(self, predictions):
        """What D_r gets in E_e's place: its feature, noise or zeros.

        Arguments
        ---------
        predictions : dict
            From ``compute_forward``.

        Returns
        -------
        torch.Tensor
            Shape [batch, eliminating_dim].
        """
        if self.eliminating_source == "encoder":
            return predictions["eliminating"]
        purifying = predictions["purifying"]
        shape = (purifying.shape[0], self.hparams.eliminating_dim)
        if self.eliminating_source == "random":
            return torch.randn(shape, device=purifying.device)
        return purifying.new_zeros(shape)

    def fit_batch(self, batch):
        """One step of the main objective, then ``adv_steps`` of C_adv.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Training crops ``sig`` and speaker indices ``spk_index``.

        Returns
        -------
        torch.Tensor
            The main objective (detached, on the CPU).
        """
        self.on_fit_batch_start(batch, True)
        with self.training_ctx:
            outputs = self.compute_forward(batch, sb.Stage.TRAIN)
            loss = self.compute_objectives(outputs, batch, sb.Stage.TRAIN)
        scaled = self.scaler.scale(loss)
        self.check_loss_isfinite(scaled)
        scaled.backward()
        self.optimizers_step()
        if self.adv_optimizer is not None:
            features = outputs["eliminating"].detach()
            speakers = batch.spk_index.data.to(self.device)
            for _ in range(self.hparams.adv_steps):
                self.adversary_step(features, speakers)
        self.on_fit_batch_end(batch, outputs, loss, True)
        return loss.detach().cpu()

    def adversary_step(self, features, speakers):
        """One step of C_adv on ``L_adv^s`` (its gradients from the main
        step are dropped first).

        Arguments
        ---------
        features : torch.Tensor
            Detached E_e features, shape [batch, eliminating_dim].
        speakers : torch.Tensor
            Speaker indices, shape [batch, 1].
        """
        self.adv_optimizer.zero_grad(set_to_none=True)
        with self.training_ctx:
            loss = adversary_loss(
                self.modules.adv_classifier, features, speakers
            )
        scaled = self.scaler.scale(loss)
        self.check_loss_isfinite(scaled)
        scaled.backward()
        self.scaler.unscale_(self.adv_optimizer)
        torch.nn.utils.clip_grad_norm_(
            self.modules.adv_classifier.parameters(), self.max_grad_norm
        )
        self.scaler.step(self.adv_optimizer)
        self.scaler.update()
        self.adv_optimizer.zero_grad(set_to_none=True)
        self.train_parts["adv_classifier"] = (
            self.train_parts.get("adv_classifier", 0.0)
            + loss.detach() / self.hparams.adv_steps
        )

    def on_stage_start(self, stage, epoch=None):
        """Starts as every speaker stage does; empties the loss parts.

        Arguments
        ---------
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.
        epoch : int, optional
            The epoch.
        """
        super().on_stage_start(stage, epoch)
        if stage == sb.Stage.TRAIN:
            self.train_parts = {}

    def new_embeddings(self):
        """An empty store per embedding (E_p's and E_e's).

        Returns
        -------
        dict
            Embedding name -> (utterance ID -> embedding).
        """
        return {name: {} for name in EMBEDDINGS}

    def bn_modules(self):
        """E_p and, with it, E_e: the encoders whose BatchNorm statistics
        are re-estimated before each dev pass.

        Returns
        -------
        torch.nn.ModuleList
            The encoders.
        """
        encoders = [self.hparams.model]
        if self.eliminating_source == "encoder":
            encoders.append(self.hparams.eliminating_encoder)
        return torch.nn.ModuleList(encoders)

    def train_stage_stats(self, stage_loss):
        """The loss and the average of each loss part over the epoch.

        Arguments
        ---------
        stage_loss : float
            Average loss of the stage.

        Returns
        -------
        dict
            Name -> value.
        """
        batches = max(self.train_parts.pop("batches", 0), 1)
        stats = {"loss": stage_loss}
        for name, value in self.train_parts.items():
            stats[name] = float(value) / batches
        return stats

    def dev_stats(self):
        """Speaker EER of each embedding and the classifiers' held-out
        accuracy.

        Returns
        -------
        valid_stats : dict
            ``<embedding>_EER`` and ``<classifier>_acc``, in percent.
        eer : float
            The speaker EER of ``verify_with`` (fraction).
        """
        valid_stats = {}
        for name, embeddings in self.embeddings.items():
            if embeddings:
                scored = asv_trial_scores(
                    embeddings, self.dev_enrol, self.dev_trials
                )
                valid_stats[f"{name}_EER"] = 100 * speaker_eer(scored)
        eer = valid_stats[f"{self.hparams.verify_with}_EER"] / 100
        for name, accuracy in self.classifier_accuracies().items():
            valid_stats[f"{name}_acc"] = 100 * accuracy
        return valid_stats, eer

    def classifier_accuracies(self):
        """Accuracy of each classifier on the held-out utterances.

        ``speaker_classifier`` on E_p's embeddings; ``adv_classifier`` on
        E_e's features (with E_e).

        Returns
        -------
        dict
            Classifier name -> accuracy (fraction); empty without held-out
            utterances.
        """
        if self.holdout_loader is None:
            return {}
        correct, total = {}, 0
        self.modules.eval()
        with torch.no_grad():
            for batch in self.holdout_loader:
                outputs = self.compute_forward(batch, sb.Stage.TEST)
                speakers = batch.spk_index.data.to(self.device).squeeze(1)
                total += len(speakers)
                for embedding, classifier in CLASSIFIERS.items():
                    if embedding not in outputs:
                        continue
                    logits = getattr(self.modules, classifier)(
                        outputs[embedding]
                    )
                    hits = int((logits.argmax(dim=1) == speakers).sum())
                    correct[classifier] = correct.get(classifier, 0) + hits
        return {name: hits / total for name, hits in correct.items()}


def check_options(hparams):
    """Raises ValueError for switches that contradict each other.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters.
    """
    check_choice("verify_with", hparams["verify_with"], EMBEDDINGS)
    has_encoder = (
        hparams["use_eliminating"] and not hparams["random_eliminating_vector"]
    )
    if hparams["verify_with"] == "eliminating" and not has_encoder:
        raise ValueError(
            "verify_with: eliminating needs E_e (use_eliminating: True, "
            "random_eliminating_vector: False)"
        )
    if hparams["adv_steps"] < 1:
        raise ValueError(f"adv_steps must be >= 1, got {hparams['adv_steps']}")


def dataio_prepare(hparams):
    """Builds the training, BatchNorm and held-out data and the ASV lists.

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


def build_modules(hparams):
    """The Brain's modules under the switches.

    E_p is trained through its ``embed`` method (``embedder``); E_e and
    C_adv are left out without E_e, D_r without ``L_rec``. C_adv is kept
    but frozen when only ``L_adv^e`` uses it (no ``L_adv^s``).

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
    has_encoder = (
        hparams["use_eliminating"] and not hparams["random_eliminating_vector"]
    )
    if not has_encoder:
        del modules["eliminating_encoder"], modules["adv_classifier"]
    elif not hparams["use_adv_classifier_loss"]:
        hparams["adv_classifier"].requires_grad_(False)
    if not hparams["use_reconstruction"]:
        del modules["decoder"]
    return modules


def write_final_outputs(brain, hparams, data):
    """Scores every dev and eval ASV trial with the best checkpoint and
    writes the report.

    Skipped when the report says it was written for the same checkpoint.

    Arguments
    ---------
    brain : SEEFALDRBrain
        The trained Brain.
    hparams : dict
        The loaded hyperparameters.
    data : dict
        From ``dataio_prepare``.
    """
    if if_main_process():
        save_best_model(hparams["save_folder"], hparams["best_model"], MIN_KEY)
    best = best_checkpoint(hparams["save_folder"], MIN_KEY)
    report_path = hparams["asv_report"]
    try:
        report = read_json(report_path)
    except FileNotFoundError:
        report = {}
    if report.get("checkpoint") == best.path.name:
        logger.info("ASV report of %s is up to date", best.path.name)
        return
    switches = (
        "use_eliminating",
        "random_eliminating_vector",
        "use_reconstruction",
        "use_adv_classifier_loss",
        "use_adv_encoder_loss",
        "adversarial_form",
        "verify_with",
    )
    report = {
        "checkpoint": best.path.name,
        MIN_KEY: best.meta[MIN_KEY],
        **{name: hparams[name] for name in switches},
        "adversary_trained": brain.trains_adversary,
        "speakers": data["speakers"],
    }
    for split in ("dev", "eval"):
        enrol, trials = (
            data["asv"][split]["enrol"],
            data["asv"][split]["trials"],
        )
        stores = brain.embed_trials(enrol, trials, hparams)
        report[split] = {}
        for name, embeddings in stores.items():
            if not embeddings:
                continue
            scored = asv_trial_scores(embeddings, enrol, trials)
            entry = {
                "speaker_eer": speaker_eer(scored),
                "min_dcf": speaker_min_dcf(scored),
            }
            if name == hparams["verify_with"]:
                entry["scores"] = os.path.join(
                    hparams["asv_score_folder"],
                    ASV_SCORE_FILE.format(split=split),
                )
                if if_main_process():
                    write_asv_scores(entry["scores"], scored)
            report[split][name] = entry
            logger.info(
                "%s ASV, %s embedding: speaker EER %.2f %%, minDCF %.4f",
                split,
                name,
                100 * entry["speaker_eer"],
                entry["min_dcf"],
            )
    report["holdout"] = {
        "utterances": data["holdout_size"],
        "chance": 1 / len(data["speakers"]),
        "accuracy": brain.classifier_accuracies(),
    }
    if if_main_process():
        write_json(report_path, report)


def main():
    """Runs the SEEF-ALDR stage from the command line."""
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    check_options(hparams)
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
    if hparams["ge2e_init"]:
        initialise_from_ge2e(hparams, data["train_set"])
    brain = SEEFALDRBrain(
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
    brain.holdout_loader = data["holdout_loader"]
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
    write_final_outputs(brain, hparams, data)


if __name__ == "__main__":
    main()
