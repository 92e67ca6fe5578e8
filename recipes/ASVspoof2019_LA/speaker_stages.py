"""The Brain base of the speaker-encoder stages (GE2E, SEEF-ALDR, speaker KD).

Each trains speaker embeddings at the learning rate of its epoch, re-estimates
the BatchNorm running statistics on training crops before each dev pass,
stores the embedding of every dev or eval utterance, scores the dev ASV
trials from them and checkpoints on the speaker EER.

Authors
 * speechbrain-asd developers
"""

import speechbrain as sb
import torch
from asv_scoring import asv_dataset, asv_trial_scores, speaker_eer
from asvspoof_stages import StageBrain, set_epoch_lr

from speechbrain_asd.batchnorm import recalibrate_batchnorm

MIN_KEY = "dev_speaker_eer"


class SpeakerEncoderBrain(StageBrain):
    """Epoch learning rate, BatchNorm recalibration, dev EER checkpoints.

    A stage gives it the dev ASV lists, the BatchNorm loader, the learning
    rate schedule and the logger with ``attach`` before ``fit``; its
    ``compute_objectives`` stores the embeddings of dev and eval passes
    with ``store_embeddings``. The parts that differ between stages are the
    methods ``new_embeddings``, ``bn_modules``, ``bn_forward``,
    ``train_stage_stats`` and ``dev_stats``.
    """

    def attach(self, dev_enrol, dev_trials, bn_loader, annealing, logger):
        """Sets what the stage hooks use besides the modules.

        The script passes its YAML's ``lr_annealing`` and ``train_logger``
        by name, so that its own text uses every key of its YAML.

        Arguments
        ---------
        dev_enrol : dict
            Enrolment rows of the dev speakers.
        dev_trials : dict
            The dev trials that select the checkpoint.
        bn_loader : speechbrain.dataio.dataloader.SaveableDataLoader
            Training crops for the BatchNorm statistics.
        annealing : speechbrain.nnet.schedulers.StepScheduler
            The learning rate of each epoch (``set_epoch_lr``).
        logger : speechbrain.utils.train_logger.FileTrainLogger
            Where each epoch's statistics go.
        """
        self.dev_enrol = dev_enrol
        self.dev_trials = dev_trials
        self.bn_loader = bn_loader
        self.lr_annealing = annealing
        self.train_logger = logger

    def new_embeddings(self):
        """An empty embedding store for a dev or eval pass.

        Returns
        -------
        dict
            Utterance ID -> embedding, filled by ``store_embeddings``.
        """
        return {}

    def store_embeddings(self, store, ids, vectors):
        """Stores embeddings of a batch; the loss of a dev or eval batch.

        Arguments
        ---------
        store : dict
            Utterance ID -> embedding.
        ids : list of str
            The batch's utterance IDs.
        vectors : torch.Tensor
            Their embeddings, shape [batch, dim].

        Returns
        -------
        loss : torch.Tensor
            Zero.
        """
        store.update(zip(ids, vectors.detach().cpu()))
        return torch.zeros((), device=self.device)

    def bn_modules(self):
        """The modules whose BatchNorm statistics are re-estimated.

        Returns
        -------
        torch.nn.Module
            The YAML's ``model``.
        """
        return self.hparams.model

    def bn_forward(self, batch):
        """The forward pass that the BatchNorm statistics are taken from.

        Arguments
        ---------
        batch : speechbrain.dataio.batch.PaddedBatch
            Training crops.

        Returns
        -------
        object
            The training-mode outputs of ``compute_forward``.
        """
        return self.compute_forward(batch, sb.Stage.TRAIN)

    def train_stage_stats(self, stage_loss):
        """The training statistics logged with the epoch.

        Arguments
        ---------
        stage_loss : float
            Average loss of the stage.

        Returns
        -------
        dict
            Name -> value.
        """
        return {"loss": stage_loss}

    def dev_stats(self):
        """Scores the dev trials from the stored embeddings.

        Returns
        -------
        valid_stats : dict
            ``speaker_EER`` in percent.
        eer : float
            The speaker EER that selects the checkpoint (fraction).
        """
        scored = asv_trial_scores(
            self.embeddings, self.dev_enrol, self.dev_trials
        )
        eer = speaker_eer(scored)
        return {"speaker_EER": 100 * eer}, eer

    def on_stage_start(self, stage, epoch=None):
        """Sets the epoch's learning rate, or empties the embedding store.

        Before each dev pass the BatchNorm running statistics are
        re-estimated on ``bn_loader`` (training crops): after a short run
        their running averages are still mostly their initial values, which
        made every eval-mode embedding point the same way.

        Arguments
        ---------
        stage : speechbrain.Stage
            TRAIN, VALID or TEST.
        epoch : int, optional
            The epoch.
        """
        if stage == sb.Stage.TRAIN:
            self.lr = set_epoch_lr(self.optimizer, self.lr_annealing, epoch)
            return
        self.embeddings = self.new_embeddings()
        if stage == sb.Stage.VALID:
            # The checkpoint saved after this pass keeps these statistics.
            recalibrate_batchnorm(
                self.bn_modules(), self.bn_loader, self.bn_forward
            )

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs the epoch and checkpoints on the dev speaker EER.

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
            self.train_stats = self.train_stage_stats(stage_loss)
            return
        if stage == sb.Stage.TEST:
            return
        valid_stats, eer = self.dev_stats()
        self.train_logger.log_stats(
            stats_meta={"epoch": epoch, "lr": self.lr},
            train_stats=self.train_stats,
            valid_stats=valid_stats,
        )
        self.checkpointer.save_and_keep_only(
            meta={MIN_KEY: eer}, min_keys=[MIN_KEY]
        )

    def embed_trials(self, enrol, trials, hparams):
        """Embeds the utterances of ASV trials with the best checkpoint.

        Arguments
        ---------
        enrol : dict
            Enrolment rows.
        trials : dict
            Trial rows.
        hparams : dict
            The loaded hyperparameters (``sample_rate``,
            ``eval_max_duration``, ``eval_dataloader_opts``, which the
            script's ``main`` also gives its dev set).

        Returns
        -------
        embeddings : dict
            The store that ``new_embeddings`` made, filled.
        """
        self.evaluate(
            asv_dataset(
                enrol,
                trials,
                hparams["sample_rate"],
                hparams["eval_max_duration"],
            ),
            min_key=MIN_KEY,
            test_loader_kwargs=dict(hparams["eval_dataloader_opts"]),
        )
        return self.embeddings
