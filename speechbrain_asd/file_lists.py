"""Scores file lists and ASVspoof CM protocols into ASVspoof score files.

Authors
 * speechbrain-asd developers
"""

from pathlib import Path

from speechbrain.utils.logger import get_logger

from speechbrain_asd.audio import AudioInputError
from speechbrain_asd.checks import name_list
from speechbrain_asd.inference import SpoofDetector
from speechbrain_asd.model_folder import ONNX_FILE, check_model_folder
from speechbrain_asd.scorefiles import (
    cm_trials_by_id,
    is_trial_list,
    read_cm_protocol,
    read_trial_list,
    write_cm_scores,
)

logger = get_logger(__name__)


def read_file_list(list_path):
    """Reads a list of audio files, one path per line.

    Blank lines and lines starting with ``#`` are skipped; relative paths
    are taken relative to the list's folder. The trial id of a file is its
    name without extension.

    Arguments
    ---------
    list_path : str or os.PathLike
        The list.

    Returns
    -------
    files : dict
        Trial id -> path, in list order.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "list.txt").write_text("# eval\\na/x.flac\\n/b/y.wav\\n")
    >>> files = read_file_list(folder / "list.txt")
    >>> [(trial, Path(path).name) for trial, path in files.items()]
    [('x', 'x.flac'), ('y', 'y.wav')]
    """
    list_path = Path(list_path)
    try:
        lines = list_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{list_path}: cannot read the list ({error})"
        ) from error
    files = {}
    for lineno, line in enumerate(lines, start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = list_path.parent / entry
        trial = path.stem
        if trial in files:
            raise ValueError(
                f"{list_path}:{lineno}: trial id {trial!r} already given by "
                f"{files[trial]} (got: {line!r})"
            )
        files[trial] = str(path)
    if not files:
        raise ValueError(f"{list_path}: no audio files listed")
    return files


def check_files_exist(paths, listed_in):
    """Checks, before any work, that every file of a list exists.

    Arguments
    ---------
    paths : list of str or os.PathLike
        The files.
    listed_in : str
        Where they come from, for the message (e.g. ``"listed in L"``).

    Example
    -------
    >>> check_files_exist(["no/a.wav", "no/b.wav"], "given")
    Traceback (most recent call last):
    ...
    speechbrain_asd.audio.AudioInputError: no/a.wav: no such file (2 of ...
    """
    missing = [str(path) for path in paths if not Path(path).is_file()]
    if missing:
        raise AudioInputError(
            missing[0],
            f"no such file ({len(missing)} of the {len(paths)} files "
            f"{listed_in} are missing: {name_list(missing, 3)})",
        )


def score_list_to_file(
    model_dir,
    list_path,
    out_path,
    audio_dir=None,
    extension=".flac",
    batch_size=None,
    backend="torch",
    onnx_file=ONNX_FILE,
    progress=True,
):
    """Scores a file list or a CM protocol and writes an ASVspoof score file.

    Without ``audio_dir``, ``list_path`` is a list of audio files (see
    ``read_file_list``) and the score file has the columns ``TRIAL SCORE``.
    With ``audio_dir``, it is an ASVspoof CM protocol (2019 or 2021) or a
    one-column trial list (such as ``ASVspoof2021.LA.cm.eval.trl.txt``), the
    audio of each trial is ``audio_dir/<trial><extension>``, and the columns
    are ``TRIAL ATTACK KEY SCORE`` (``TRIAL SCORE`` for a trial list, which
    has no keys). Every file must exist and be scored, or
    nothing is written; the score file is written atomically at the end.

    Arguments
    ---------
    model_dir : str or os.PathLike
        The model folder.
    list_path : str or os.PathLike
        The file list or protocol.
    out_path : str or os.PathLike
        The score file to write.
    audio_dir : str or os.PathLike, optional
        Folder of the protocol's audio files.
    extension : str
        Extension of the protocol's audio files.
    batch_size : int, optional
        Windows per forward pass; None means the model's.
    backend : str
        ``"torch"`` or ``"onnx"``.
    onnx_file : str
        The ONNX model of the folder for the ONNX backend (e.g.
        ``model.int8.onnx``).
    progress : bool
        Show a progress bar.

    Returns
    -------
    count : int
        Number of trials scored.

    Example
    -------
    >>> score_list_to_file("no/model", "list.txt", "scores.txt")
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: model folder 'no/model' ...
    """
    check_model_folder(model_dir)
    trials = None
    if audio_dir is None:
        files = read_file_list(list_path)
    else:
        if is_trial_list(list_path):
            ids = read_trial_list(list_path)
        else:
            trials = cm_trials_by_id(read_cm_protocol(list_path))
            ids = list(trials)
        files = {
            trial: str(Path(audio_dir) / f"{trial}{extension}") for trial in ids
        }
    check_files_exist(list(files.values()), f"listed in {list_path}")
    detector = SpoofDetector.from_hparams(
        model_dir, backend=backend, onnx_file=onnx_file
    )
    results = detector.score_files(
        list(files.values()), batch_size=batch_size, progress=progress
    )
    scores = {
        trial: result.bonafide_score for trial, result in zip(files, results)
    }
    write_cm_scores(out_path, scores, trials)
    logger.info("wrote %d scores to %s", len(scores), out_path)
    return len(scores)
