"""Runs an exported ONNX countermeasure or speaker encoder with onnxruntime.

Authors
 * speechbrain-asd developers
"""

import torch

from speechbrain_asd.model_folder import ExportError, ModelFolderError


def onnx_session(path):
    """Opens an ONNX model with onnxruntime on the CPU, with torch's threads.

    Arguments
    ---------
    path : str or os.PathLike
        The ONNX file.

    Returns
    -------
    session : onnxruntime.InferenceSession
        The session.

    Example
    -------
    >>> onnx_session("no/such/model.onnx")
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: no/such/model.onnx: ...
    """
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(
            "the onnx backend needs onnxruntime: pip install "
            "'speechbrain-asd[onnx]'"
        ) from error
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:
        raise ModelFolderError(
            f"{path}: onnxruntime cannot load this model ({error})"
        ) from error


def probe_inputs(sample_rate):
    """Inputs of other shapes than the export's, to check the ONNX graph.

    Arguments
    ---------
    sample_rate : int
        Sample rate, in Hz.

    Returns
    -------
    probes : list of (torch.Tensor, torch.Tensor)
        (wavs, lengths) pairs.

    Example
    -------
    >>> [tuple(wavs.shape) for wavs, _ in probe_inputs(16000)]
    [(3, 24000), (1, 4800)]
    """
    generator = torch.Generator().manual_seed(1)
    probes = []
    for batch, seconds, lengths in (
        (3, 1.5, [1.0, 0.5, 0.2]),
        (1, 0.3, [1.0]),
    ):
        samples = round(seconds * sample_rate)
        wavs = 0.1 * torch.randn(batch, samples, generator=generator)
        probes.append((wavs, torch.tensor(lengths)))
    return probes


def run_onnx(path, wavs, lengths):
    """Runs an ONNX model with onnxruntime on the CPU; its first output.

    Arguments
    ---------
    path : pathlib.Path
        The ONNX file.
    wavs : torch.Tensor
        Shape [batch, samples].
    lengths : torch.Tensor
        Shape [batch].

    Returns
    -------
    output : torch.Tensor
        Logits [batch, n_classes] (a countermeasure) or embeddings
        [batch, emb_dim] (a speaker encoder).

    Example
    -------
    >>> run_onnx("no/such/model.onnx", torch.zeros(1, 800), torch.ones(1))
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: no/such/model.onnx: ...
    """
    return run_session(onnx_session(path), wavs, lengths)


def run_session(session, wavs, lengths):
    """Runs an open onnxruntime session on a batch; its first output.

    Arguments
    ---------
    session : onnxruntime.InferenceSession
        A session of an exported model (inputs ``wavs`` and ``lengths``).
    wavs : torch.Tensor
        Waveforms, float32 [batch, samples].
    lengths : torch.Tensor
        Relative lengths, float32 [batch].

    Returns
    -------
    output : torch.Tensor
        The model's first output, on the CPU.

    Example
    -------
    >>> class Echo:
    ...     def run(self, names, feeds):
    ...         return [feeds["lengths"]]
    >>> run_session(Echo(), torch.zeros(1, 8), torch.ones(1))
    tensor([1.])
    """
    feeds = {"wavs": wavs.cpu().numpy(), "lengths": lengths.cpu().numpy()}
    return torch.from_numpy(session.run(None, feeds)[0])


def check_onnx_runs(path, sample_rate):
    """Checks that an ONNX model runs and gives finite outputs.

    Arguments
    ---------
    path : pathlib.Path
        The ONNX file.
    sample_rate : int
        Sample rate, in Hz.

    Example
    -------
    >>> check_onnx_runs("no/such/model.onnx", 16000)
    Traceback (most recent call last):
    ...
    speechbrain_asd.model_folder.ModelFolderError: no/such/model.onnx: ...
    """
    for wavs, lengths in probe_inputs(sample_rate):
        if not torch.isfinite(run_onnx(path, wavs, lengths)).all():
            raise ExportError(f"{path}: outputs NaN or inf")
