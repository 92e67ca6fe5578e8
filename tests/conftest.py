"""Shared test helpers.

Authors
 * speechbrain-asd developers
"""

import json

import pytest
from speechbrain.utils.checkpoints import Checkpointer


def pytest_addoption(parser):
    """Options of the integration tests: the device and a ready corpus.

    Arguments
    ---------
    parser : pytest.Parser
        Pytest's option parser.
    """
    parser.addoption(
        "--recipe-device",
        default="cpu",
        help="device the recipe integration tests train and attack on "
        "(cpu, cuda, cuda:0); the DDP test runs on the CPU only",
    )
    parser.addoption(
        "--toy-corpus-small",
        default=None,
        help="a small corpus made by asd_toy_corpus (size 'small') to copy "
        "instead of generating one (for machines without its Debian sources)",
    )


@pytest.fixture(scope="session")
def recipe_device(request):
    """The device of the recipe integration tests (``--recipe-device``).

    Arguments
    ---------
    request : pytest.FixtureRequest
        Pytest's request.

    Returns
    -------
    str
        ``"cpu"`` unless the option names another; a CUDA device is skipped
        where torch sees none.
    """
    import torch

    device = request.config.getoption("--recipe-device")
    if device.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip(f"--recipe-device={device}: torch sees no CUDA device")
    return device


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
