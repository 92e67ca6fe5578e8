"""Active AEG: adversarial examples regenerated with the model every epoch.

Authors
 * speechbrain-asd developers
"""

import csv
import os

from speechbrain.dataio.dataloader import make_dataloader
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.logger import get_logger

from speechbrain_asd.data.adversarial import (
    ADVERSARIAL_KEY,
    ADVERSARIAL_LABEL,
    ADVERSARIAL_SYSTEM,
    generate_adversarial_set,
    pair_id,
)
from speechbrain_asd.data.asvspoof import CM_HEADER
from speechbrain_asd.data.sampler import SlotSampler

logger = get_logger(__name__)

MANIFEST_FILE = "adversarial.csv"


class ActiveAEG:
    """The adversarial examples of active AEG and the sampler that uses them.

    The training dataset holds the ``n_fixed`` original items followed by
    one slot per pair (``slot_rows``, pointing where that pair's example is
    written). Before each epoch ``refresh`` attacks every pair with the
    current model and switches on the slots of the examples kept. Register
    ``sampler`` as a recoverable, so that a run resumed inside an epoch
    keeps that epoch's set.

    Arguments
    ---------
    pairs : list of (dict, dict)
        ``(reference, target)`` rows from ``make_same_speaker_pairs``.
    output_folder : str or os.PathLike
        Where the examples and their manifest are written.
    n_fixed : int
        Number of original training items (before the slots).
    options : dict
        Keyword arguments of ``generate_adversarial_set`` (``alpha``,
        ``iterations``, ``threshold``, ``max_duration``, ...).
    seed : int
        Seed of the sampler's permutations.

    Example
    -------
    >>> pair = ({"ID": "r", "wav": "r.flac", "spk_id": "s", "duration": 3},
    ...         {"ID": "t", "wav": "t.flac", "spk_id": "s", "duration": 6})
    >>> aeg = ActiveAEG([pair], "adv", n_fixed=10, options={"max_duration": 4})
    >>> row = aeg.slot_rows["t_adv_r"]
    >>> row["duration"], row["wav"], aeg.n_active
    (4, 'adv/t_adv_r.flac', 0)
    """

    def __init__(self, pairs, output_folder, n_fixed, options, seed=0):
        """Lays out the slots and builds the sampler (no slot on yet)."""
        self.pairs = list(pairs)
        self.output_folder = str(output_folder)
        self.manifest = os.path.join(self.output_folder, MANIFEST_FILE)
        self.options = dict(options)
        max_duration = self.options.get("max_duration")
        self.slot_rows = {}
        for reference, target in self.pairs:
            utt_id = pair_id(reference, target)
            duration = float(target["duration"])
            if max_duration is not None:
                duration = min(duration, max_duration)
            self.slot_rows[utt_id] = {
                "duration": duration,
                "wav": os.path.join(self.output_folder, f"{utt_id}.flac"),
                "spk_id": target["spk_id"],
                "system": ADVERSARIAL_SYSTEM,
                "key": ADVERSARIAL_KEY,
                "label": str(ADVERSARIAL_LABEL),
            }
        self.sampler = SlotSampler(n_fixed, list(self.slot_rows), seed=seed)

    @property
    def n_active(self):
        """Number of adversarial examples used in the current epoch."""
        return len(self.sampler.active)

    def make_loader(self, dataset, **loader_options):
        """The training DataLoader, drawing through the slot sampler.

        Arguments
        ---------
        dataset : torch.utils.data.Dataset
            The original items followed by the slots.
        **loader_options : dict
            Options of SpeechBrain's ``make_dataloader`` (``shuffle`` is
            ignored: the sampler shuffles).

        Returns
        -------
        loader : torch.utils.data.DataLoader
            The loader.
        """
        loader_options.pop("shuffle", None)
        return make_dataloader(dataset, sampler=self.sampler, **loader_options)

    def refresh(self, epoch, embed_fn, model, device=None, progress=False):
        """Regenerates the adversarial examples with the current model.

        Every pair is attacked and the slots of the kept examples are switched
        on, unless the sampler already holds this epoch's set (a resumed run).

        Arguments
        ---------
        epoch : int
            The epoch about to run.
        embed_fn : Callable
            ``embed_fn(wavs, lens) -> embeddings`` of the current model.
        model : torch.nn.Module or list
            The module(s) behind ``embed_fn`` (put in eval mode meanwhile).
        device : str, optional
            Where to attack.
        progress : bool
            Whether to show a progress bar.
        """
        if self.sampler.prepared_for(epoch):
            logger.info("Epoch %d resumed: keeping its adversarial set", epoch)
            return
        run_on_main(
            self._generate,
            kwargs=dict(
                epoch=epoch,
                embed_fn=embed_fn,
                model=model,
                device=device,
                progress=progress,
            ),
        )
        self.sampler.switch_on(_manifest_ids(self.manifest), epoch)

    def _generate(self, epoch, embed_fn, model, device, progress):
        """Writes this epoch's examples and manifest (main process)."""
        stats = generate_adversarial_set(
            embed_fn,
            self.pairs,
            self.output_folder,
            self.manifest,
            device=device,
            model=model,
            progress=progress,
            **self.options,
        )
        logger.info(
            "Epoch %d active AEG: kept %d of %d pairs",
            epoch,
            stats.kept,
            stats.tried,
        )


def _manifest_ids(csv_path):
    """The IDs of a manifest written by ``generate_adversarial_set``."""
    with open(csv_path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != CM_HEADER:
            raise ValueError(
                f"{csv_path}: header {reader.fieldnames}, expected {CM_HEADER}"
            )
        return [row["ID"] for row in reader]
