"""Shared test helpers.

Authors
 * speechbrain-asd developers
"""

import json

import pytest
from speechbrain.utils.checkpoints import Checkpointer


def _write_stage_output(
    folder,
    model,
    model_kwargs,
    class_names,
    name="tiny",
    dev_eer=0.1,
    metrics=None,
    sample_rate=16000,
):
    """Writes a recipe CM stage's output folder: one end-of-epoch checkpoint
    of ``model`` (``save/``) and its ``model_info.json``.

    Arguments
    ---------
    folder : pathlib.Path
        The stage folder.
    model : ResNetSE
        The model saved.
    model_kwargs : dict
        Its keyword arguments.
    class_names : sequence of str
        Its output classes.
    name : str
        The model's name.
    dev_eer : float
        The checkpoint's dev EER.
    metrics : dict, optional
        ``model_info.json``'s metrics; by default the dev EER.
    sample_rate : int
        Its sample rate.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    Checkpointer(folder / "save", {"model": model}).save_checkpoint(
        meta={"dev_eer": dev_eer}, name="epoch"
    )
    info = {
        "model_kwargs": model_kwargs,
        "class_names": list(class_names),
        "sample_rate": sample_rate,
        "name": name,
        "metrics": {"dev_eer": dev_eer} if metrics is None else metrics,
    }
    (folder / "model_info.json").write_text(json.dumps(info))
    return folder


@pytest.fixture(scope="session")
def write_stage_output():
    """The writer of a fake recipe stage output folder (any test scope).

    Returns
    -------
    callable
        ``_write_stage_output``.
    """
    return _write_stage_output
