"""External command-line tools used by the corpus generator.

sox (telephone codecs, GSM decoding), codec2 (``c2enc``/``c2dec``) and
espeak-ng (rule-based text to speech) run as subprocesses on 16-bit raw
audio at 8 kHz. A missing tool gives an error that names the Debian package
to install.

Authors
 * speechbrain-asd developers
"""

import os
import shutil
import subprocess
import tempfile

import numpy as np
import soundfile as sf

SAMPLE_RATE = 8000

DEBIAN_PACKAGES = {
    "sox": "sox libsox-fmt-all",
    "c2enc": "codec2",
    "c2dec": "codec2",
    "espeak-ng": "espeak-ng",
}

_RAW_ARGS = ["-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed", "-b", "16"]


class ToolError(OSError):
    """An external tool is missing or failed.

    Example
    -------
    >>> str(ToolError("sox failed"))
    'sox failed'
    """


def missing_tools(names=tuple(DEBIAN_PACKAGES)):
    """Lists the tools that cannot be found on the PATH.

    Arguments
    ---------
    names : iterable of str
        Tool names, keys of ``DEBIAN_PACKAGES``.

    Returns
    -------
    list of str
        The missing ones, each with the Debian package that provides it.

    Example
    -------
    >>> missing_tools(["sox"])
    []
    """
    return [
        f"{name} (Debian package: {DEBIAN_PACKAGES[name]})"
        for name in names
        if shutil.which(name) is None
    ]


def run_tool(args, data=b""):
    """Runs a tool with bytes on stdin and returns its stdout.

    Arguments
    ---------
    args : list of str
        The command line; ``args[0]`` is the tool.
    data : bytes
        What to write to its standard input.

    Returns
    -------
    bytes
        Its standard output.

    Raises
    ------
    ToolError
        When the tool is missing (naming its Debian package) or exits with
        an error (quoting its stderr).

    Example
    -------
    >>> run_tool(["sox", "--version"]).startswith(b"sox")
    True
    """
    if shutil.which(args[0]) is None:
        package = DEBIAN_PACKAGES.get(args[0], args[0])
        raise ToolError(
            f"'{args[0]}' is not installed; the toy corpus needs it "
            f"(Debian package: {package}, e.g. apt-get install {package})"
        )
    done = subprocess.run(args, input=data, capture_output=True, check=False)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise ToolError(
            f"{' '.join(args)} failed with status {done.returncode}: {message}"
        )
    return done.stdout


def to_pcm16(x):
    """Converts a float signal in [-1, 1] to little-endian 16-bit bytes.

    Arguments
    ---------
    x : numpy.ndarray
        The signal, 1-D.

    Returns
    -------
    bytes
        Raw 16-bit PCM.

    Example
    -------
    >>> to_pcm16(np.array([0.0, 0.5]))
    b'\\x00\\x00\\x00@'
    """
    scaled = np.clip(np.round(np.asarray(x) * 32768.0), -32768, 32767)
    return scaled.astype("<i2").tobytes()


def from_pcm16(data):
    """Converts little-endian 16-bit bytes to a float64 signal.

    Arguments
    ---------
    data : bytes
        Raw 16-bit PCM.

    Returns
    -------
    numpy.ndarray
        The signal in [-1, 1).

    Example
    -------
    >>> from_pcm16(b"\\x00\\x00\\x00@").tolist()
    [0.0, 0.5]
    """
    usable = len(data) - len(data) % 2
    return np.frombuffer(data[:usable], dtype="<i2") / 32768.0


def decode_with_sox(path):
    """Decodes any file sox reads (GSM prompts) to 8 kHz mono.

    Arguments
    ---------
    path : str or os.PathLike
        The audio file.

    Returns
    -------
    numpy.ndarray
        The signal at 8 kHz.

    Example
    -------
    >>> import glob
    >>> gsm = sorted(glob.glob("/usr/share/asterisk/sounds/fr/*.gsm"))[0]
    >>> decode_with_sox(gsm).ndim
    1
    """
    out = run_tool(["sox", os.fspath(path), *_RAW_ARGS, "-c", "1", "-"])
    return from_pcm16(out)


def sox_codec_round_trip(x, file_type, options=()):
    """Encodes an 8 kHz signal with a sox codec and decodes it back.

    Arguments
    ---------
    x : numpy.ndarray
        The signal at 8 kHz.
    file_type : str
        A sox file type with a lossy codec, e.g. ``"amr-nb"``, ``"gsm"``.
    options : sequence of str
        Output options placed before the encoded file type, such as
        ``("-C", "4")`` for an AMR-NB bit-rate mode.

    Returns
    -------
    numpy.ndarray
        The decoded signal at 8 kHz (length as the codec returns it).

    Example
    -------
    >>> x = 0.1 * np.sin(np.arange(8000) * 0.2)
    >>> sox_codec_round_trip(x, "gsm").shape[0] >= 7900
    True
    """
    raw_in = [*_RAW_ARGS, "-c", "1", "-"]
    coded = run_tool(
        ["sox", *raw_in, *options, "-t", file_type, "-"], to_pcm16(x)
    )
    decoded = run_tool(
        ["sox", "-t", file_type, "-", *_RAW_ARGS, "-c", "1", "-"], coded
    )
    return from_pcm16(decoded)


def codec2_round_trip(x, mode):
    """Encodes an 8 kHz signal with Codec2 and decodes it back.

    Arguments
    ---------
    x : numpy.ndarray
        The signal at 8 kHz.
    mode : str
        A Codec2 bit rate mode, e.g. ``"1300"`` or ``"3200"``.

    Returns
    -------
    numpy.ndarray
        The decoded signal at 8 kHz.

    Example
    -------
    >>> x = 0.1 * np.sin(np.arange(8000) * 0.2)
    >>> codec2_round_trip(x, "3200").shape
    (8000,)
    """
    bits = run_tool(["c2enc", mode, "-", "-"], to_pcm16(x))
    return from_pcm16(run_tool(["c2dec", mode, "-", "-"], bits))


def espeak(text, voice, speed, pitch):
    """Synthesises text with espeak-ng.

    Arguments
    ---------
    text : str
        What to say.
    voice : str
        An espeak-ng voice, e.g. ``"en-us+f3"``.
    speed : int
        Words per minute (80-450).
    pitch : int
        Pitch adjustment 0-99.

    Returns
    -------
    signal : numpy.ndarray
        The synthesised speech.
    sample_rate : int
        Its sample rate (22,050 Hz for the standard voices).

    Example
    -------
    >>> signal, sr = espeak("hello", "en-us", 175, 50)
    >>> sr, signal.ndim
    (22050, 1)
    """
    with tempfile.TemporaryDirectory(prefix="sb_asd_tts_") as folder:
        path = os.path.join(folder, "tts.wav")
        run_tool(
            [
                "espeak-ng",
                "-v",
                voice,
                "-s",
                str(int(speed)),
                "-p",
                str(int(pitch)),
                "-w",
                path,
                text,
            ]
        )
        signal, sr = sf.read(path, dtype="float64", always_2d=True)
    return signal[:, 0], int(sr)
