"""Data preparation of the ASVspoof 2019 LA recipe.

Writes the CSV manifests (train, dev, eval, optionally the ASVspoof 2021 LA
eval set, speaker lists and ASV enrolment/trial lists) that ``train.py``
reads. The work is done by ``speechbrain_asd.data.asvspoof``; this file only
gives it the recipe's usual entry point, to be called through
``run_on_main(prepare_asvspoof, kwargs={...})``.

Download ASVspoof 2019 from https://datashare.ed.ac.uk/handle/10283/3336
(``LA.zip``) and, for the 2021 evaluation, ``ASVspoof2021_LA_eval.tar.gz``
and ``LA-keys-full.tar.gz`` from https://www.asvspoof.org/. The offline
corpus of ``asd-toy-corpus make`` has the same layout.

Authors
 * speechbrain-asd developers
"""

from speechbrain_asd.data.asvspoof import SPLITS_2019
from speechbrain_asd.data.asvspoof import (
    prepare_asvspoof as _prepare_library,
)


def prepare_asvspoof(
    data_folder,
    save_folder,
    splits=SPLITS_2019,
    eval_2021_folder=None,
    skip_prep=False,
):
    """Prepares the ASVspoof manifests of the recipe.

    Arguments
    ---------
    data_folder : str
        Folder that contains ``LA/`` of ASVspoof 2019 (``$data_root``).
    save_folder : str
        Where the manifests are written.
    splits : sequence of str
        ASVspoof 2019 splits to prepare (``train``, ``dev``, ``eval``).
    eval_2021_folder : str, optional
        ASVspoof 2021 LA folder (``$data_root_2021``); adds ``eval_2021.csv``.
    skip_prep : bool
        If True, nothing is prepared.

    Returns
    -------
    dict
        File stem -> path of each manifest.
    """
    return _prepare_library(
        data_folder=data_folder,
        save_folder=save_folder,
        splits=splits,
        eval_2021_folder=eval_2021_folder,
        skip_prep=skip_prep,
    )
