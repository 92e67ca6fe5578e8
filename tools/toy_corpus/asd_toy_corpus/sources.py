"""Real human speech from installed Debian packages: speakers and utterances.

The catalogue lists 22 distinct speakers and the split each belongs to. Checked
on the installed files (durations, pitch, spectrograms): the Asterisk prompt
packages each hold one voice (Allison, June, Menardi, Carlo, the Russian IVR
voice, the French ``fr/`` voice Armelle and the Colombian Spanish ``es/``
voice); the Fish Fillets NG dialogue packages hold the game's Czech and Dutch
dubbing, of which the two fish, one actor each per language, say over 500
lines of 1.5-6 s (the talker code is in the file name: ``m`` the small fish,
higher pitched, median F0 about 270 Hz in Czech and 190 Hz in Dutch, ``v``
the big fish, about 120 Hz); the Codec2 examples hold radio amateurs named by
their call signs (VE9QRP, VK5QI, G3PLX, Kristoff) and lab recordings
(``hts.raw`` alternates a male and a female talker in 6 s blocks,
``cq_ref.raw``); PocketSphinx's test data holds a LibriVox reader and a
"cards" talker; ALSA's test sounds hold one voice, and Linphone's
``hello16000.wav`` another. Left out: ``all.wav`` (a concatenation),
``david4.wav`` and ``vk2tpm_004.wav`` (modem signals, not speech), the
``*2400`` files (Codec2 outputs), ``ve9qrp_10s`` (a copy), sine, modem and
test-frame files, ALSA's ``Noise.wav``, the side characters of Fish Fillets
(few lines each, possibly voiced by the fish actors), and recordings whose
talker could not be told apart from another one (``forig``, ``morig``,
``mmt1``, ``big_dog``, ``cross`` and PocketSphinx's
``goforward``/``numbers``/``something``). Recordings whose talkers might
coincide are kept in the same split, so splits stay speaker-disjoint.

Every utterance is read as 8 kHz mono float64: the spoofing systems and the
channel work at 8 kHz.

Authors
 * speechbrain-asd developers
"""

import functools
import glob
import os
import re
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import soundfile as sf

from asd_toy_corpus.dsp import frame_energies_db, resample
from asd_toy_corpus.tools import decode_with_sox

SAMPLE_RATE = 8000
ASTERISK = "/usr/share/asterisk/sounds"
CODEC2 = "/usr/share/codec2/raw"
SPHINX = "/usr/share/pocketsphinx/test/data"
FILLETS = "/usr/share/games/fillets-ng/sound"

PROMPT_MIN_S = 1.5
PROMPT_MAX_S = 6.0
CHUNK_MIN_S = 2.0
CHUNK_MAX_S = 4.5
CLIP_MIN_S = 1.0
GSM_FRAME_BYTES = 33
GSM_FRAME_S = 0.02
NOT_SPEECH = re.compile(r"beep|tone|silence|music|ring|dtmf|click|Noise")


@dataclass(frozen=True)
class Recording:
    """A file pattern of one speaker, optionally restricted to time spans.

    Arguments
    ---------
    pattern : str
        A glob pattern.
    spans : tuple of (float, float)
        Time spans in seconds to take from each file; empty for the whole
        file.

    Example
    -------
    >>> Recording("/usr/share/codec2/raw/hts.raw", ((0.0, 6.0),)).spans
    ((0.0, 6.0),)
    """

    pattern: str
    spans: Tuple[Tuple[float, float], ...] = ()


@dataclass(frozen=True)
class SpeakerSpec:
    """One real speaker of the corpus and where their speech lies.

    Arguments
    ---------
    name : str
        A readable name, e.g. ``"en-allison"``.
    gender : str
        ``"female"`` or ``"male"`` (for the ASV enrolment lists).
    language : str
        espeak-ng language of the speaker, for the TTS attacks.
    split : str
        ``"train"``, ``"dev"`` or ``"eval"``.
    package : str
        The Debian package holding the files.
    kind : str
        ``"prompts"``: one utterance per file, files outside 1.5-6 s are
        skipped; ``"recordings"``: files are cut at pauses into 2-4.5 s
        chunks (shorter files of at least 1 s are kept whole).
    recordings : tuple of Recording
        Where the speech lies.

    Example
    -------
    >>> SPEAKERS[0].name, SPEAKERS[0].split
    ('en-allison', 'train')
    """

    name: str
    gender: str
    language: str
    split: str
    package: str
    kind: str
    recordings: Tuple[Recording, ...]


@dataclass(frozen=True)
class UtteranceRef:
    """A span of a source file that makes one utterance.

    Arguments
    ---------
    speaker : str
        Name of the speaker in the catalogue.
    path : str
        The source file.
    start : int, optional
        First sample (8 kHz) of the span; None for the whole file.
    stop : int, optional
        One past the last sample; None for the whole file.
    duration : float
        Duration in seconds.

    Example
    -------
    >>> UtteranceRef("alsa", "/x.wav", None, None, 1.4).duration
    1.4
    """

    speaker: str
    path: str
    start: Optional[int]
    stop: Optional[int]
    duration: float


def _asterisk(folder, suffix="wav"):
    """Builds the recording list of one Asterisk prompt folder.

    Arguments
    ---------
    folder : str
        Folder name under the Asterisk sounds folder.
    suffix : str
        File extension.

    Returns
    -------
    tuple of Recording
        One pattern over the folder's top-level prompts.
    """
    return (Recording(f"{ASTERISK}/{folder}/*.{suffix}"),)


def _fillets(language, fish):
    """Builds the recording list of one Fish Fillets NG dialogue voice.

    Arguments
    ---------
    language : str
        ``"cs"`` or ``"nl"`` (the language folder of each level).
    fish : str
        ``"m"`` (the small fish) or ``"v"`` (the big fish): the talker
        code in the file names, e.g. ``vit-m-hlava.ogg``.

    Returns
    -------
    tuple of Recording
        One pattern over that voice's lines in every level.
    """
    return (Recording(f"{FILLETS}/*/{language}/*-{fish}-*.ogg"),)


# Positions give the speaker ids (LA_0001 for the first entry): new speakers
# are appended, so the ids of the others stay as they were.
SPEAKERS = (
    SpeakerSpec(
        "en-allison",
        "female",
        "en-us",
        "train",
        "asterisk-core-sounds-en-wav",
        "prompts",
        _asterisk("en_US_f_Allison"),
    ),
    SpeakerSpec(
        "frca-june",
        "female",
        "fr-fr",
        "eval",
        "asterisk-core-sounds-fr-wav",
        "prompts",
        _asterisk("fr_CA_f_June"),
    ),
    SpeakerSpec(
        "it-menardi",
        "female",
        "it",
        "train",
        "asterisk-prompt-it-menardi-wav",
        "prompts",
        _asterisk("it_IT_f_Menardi"),
    ),
    SpeakerSpec(
        "fr-armelle",
        "female",
        "fr-fr",
        "dev",
        "asterisk-prompt-fr-armelle",
        "prompts",
        _asterisk("fr", "gsm"),
    ),
    SpeakerSpec(
        "es-co",
        "female",
        "es-419",
        "eval",
        "asterisk-prompt-es-co",
        "prompts",
        _asterisk("es", "gsm"),
    ),
    SpeakerSpec(
        "codec2-ve9qrp",
        "male",
        "en-us",
        "train",
        "codec2-examples",
        "recordings",
        (Recording(f"{CODEC2}/ve9qrp.raw"),),
    ),
    SpeakerSpec(
        "sphinx-librivox",
        "male",
        "en-us",
        "train",
        "pocketsphinx-testdata",
        "recordings",
        (Recording(f"{SPHINX}/librivox/*.wav"),),
    ),
    SpeakerSpec(
        "alsa",
        "female",
        "en-us",
        "train",
        "alsa-utils",
        "recordings",
        (
            Recording("/usr/share/sounds/alsa/Front_*.wav"),
            Recording("/usr/share/sounds/alsa/Rear_*.wav"),
            Recording("/usr/share/sounds/alsa/Side_*.wav"),
        ),
    ),
    SpeakerSpec(
        "sphinx-cards",
        "male",
        "en-us",
        "train",
        "pocketsphinx-testdata",
        "recordings",
        (Recording(f"{SPHINX}/cards/*.wav"),),
    ),
    SpeakerSpec(
        "it-carlo",
        "male",
        "it",
        "dev",
        "asterisk-core-sounds-it-wav",
        "prompts",
        _asterisk("it_IT_m_Carlo"),
    ),
    SpeakerSpec(
        "codec2-hts-female",
        "female",
        "en-us",
        "eval",
        "codec2-examples",
        "recordings",
        (Recording(f"{CODEC2}/hts.raw", ((6.0, 12.0), (18.0, 24.0))),),
    ),
    SpeakerSpec(
        "codec2-hts-male",
        "male",
        "en-us",
        "eval",
        "codec2-examples",
        "recordings",
        (Recording(f"{CODEC2}/hts.raw", ((0.0, 6.0), (12.0, 18.0))),),
    ),
    SpeakerSpec(
        "codec2-cq-ref",
        "male",
        "en-us",
        "eval",
        "codec2-examples",
        "recordings",
        (Recording(f"{CODEC2}/cq_ref.raw"),),
    ),
    SpeakerSpec(
        "ru-ivrvoice",
        "female",
        "ru",
        "eval",
        "asterisk-core-sounds-ru-wav",
        "prompts",
        _asterisk("ru_RU_f_IvrvoiceRU"),
    ),
    SpeakerSpec(
        "codec2-vk5qi",
        "male",
        "en-us",
        "train",
        "codec2-examples",
        "recordings",
        (Recording(f"{CODEC2}/vk5qi.raw"),),
    ),
    SpeakerSpec(
        "codec2-g3plx",
        "male",
        "en-us",
        "dev",
        "codec2-examples",
        "recordings",
        (Recording(f"{CODEC2}/g3plx.raw"),),
    ),
    SpeakerSpec(
        "codec2-kristoff",
        "male",
        "en-us",
        "dev",
        "codec2-examples",
        "recordings",
        (Recording(f"{CODEC2}/kristoff.raw"),),
    ),
    SpeakerSpec(
        "fillets-cs-small",
        "female",
        "cs",
        "eval",
        "fillets-ng-data-cs",
        "prompts",
        _fillets("cs", "m"),
    ),
    SpeakerSpec(
        "fillets-cs-big",
        "male",
        "cs",
        "train",
        "fillets-ng-data-cs",
        "prompts",
        _fillets("cs", "v"),
    ),
    SpeakerSpec(
        "fillets-nl-small",
        "female",
        "nl",
        "dev",
        "fillets-ng-data-nl",
        "prompts",
        _fillets("nl", "m"),
    ),
    SpeakerSpec(
        "fillets-nl-big",
        "male",
        "nl",
        "eval",
        "fillets-ng-data-nl",
        "prompts",
        _fillets("nl", "v"),
    ),
    SpeakerSpec(
        "linphone-hello",
        "male",
        "en-us",
        "train",
        "linphone-common",
        "recordings",
        (Recording("/usr/share/sounds/linphone/hello16000.wav"),),
    ),
)


def speaker_spec(name):
    """Looks a speaker up in the catalogue by name.

    Arguments
    ---------
    name : str
        The speaker's name.

    Returns
    -------
    SpeakerSpec
        Its catalogue entry.

    Raises
    ------
    KeyError
        For an unknown name.

    Example
    -------
    >>> speaker_spec("it-carlo").gender
    'male'
    """
    for spec in SPEAKERS:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown toy-corpus speaker {name!r}")


@functools.lru_cache(maxsize=48)
def load_file(path):
    """Reads a whole source file as 8 kHz mono float64 (cached).

    ``.raw`` files are 8 kHz 16-bit little-endian (the Codec2 examples),
    ``.gsm`` files are decoded by sox, anything else by soundfile (first
    channel) and resampled to 8 kHz.

    Arguments
    ---------
    path : str
        The file.

    Returns
    -------
    numpy.ndarray
        The signal at 8 kHz (read-only; copy before changing it).

    Example
    -------
    >>> load_file("/usr/share/codec2/raw/g3plx.raw").shape
    (45643,)
    """
    if path.endswith(".raw"):
        x = np.fromfile(path, dtype="<i2") / 32768.0
    elif path.endswith(".gsm"):
        x = decode_with_sox(path)
    else:
        data, sr = sf.read(path, dtype="float64", always_2d=True)
        x = resample(data[:, 0], sr, SAMPLE_RATE)
    x = np.asarray(x, dtype=np.float64)
    x.setflags(write=False)
    return x


def load_utterance(ref):
    """Reads the audio of an utterance as 8 kHz mono float64.

    Arguments
    ---------
    ref : UtteranceRef
        The utterance.

    Returns
    -------
    numpy.ndarray
        A fresh (writable) array at 8 kHz.

    Example
    -------
    >>> ref = UtteranceRef("g", "/usr/share/codec2/raw/g3plx.raw", 0, 800, 0.1)
    >>> load_utterance(ref).shape
    (800,)
    """
    x = load_file(ref.path)
    if ref.start is not None:
        x = x[ref.start : ref.stop]
    return np.array(x, dtype=np.float64)


def _prompt_duration(path):
    """Duration of a prompt file from its header or size, without decoding.

    Arguments
    ---------
    path : str
        A ``.wav`` or ``.gsm`` prompt.

    Returns
    -------
    float
        Duration in seconds.
    """
    if path.endswith(".gsm"):
        return os.path.getsize(path) / GSM_FRAME_BYTES * GSM_FRAME_S
    return float(sf.info(path).duration)


def _speech_files(recording):
    """Lists the files of a recording pattern that may hold speech.

    Arguments
    ---------
    recording : Recording
        The pattern.

    Returns
    -------
    list of str
        Sorted matching files, without beeps, tones and the like.
    """
    return [
        path
        for path in sorted(glob.glob(recording.pattern))
        if not NOT_SPEECH.search(os.path.basename(path))
    ]


def _chunk_bounds(x):
    """Cuts a recording at its quietest points into 2-4.5 s chunks.

    Chunks with too little speech (under 30 % active frames, judged against
    the loud frames of the whole recording) are dropped.

    Arguments
    ---------
    x : numpy.ndarray
        The recording at 8 kHz.

    Returns
    -------
    list of (int, int)
        Sample spans of the kept chunks.
    """
    frame = int(0.02 * SAMPLE_RATE)
    energies = frame_energies_db(x, SAMPLE_RATE)
    active = energies > np.percentile(energies, 95) - 30.0
    min_f = int(CHUNK_MIN_S / 0.02)
    max_f = int(CHUNK_MAX_S / 0.02)
    spans = []
    start = 0
    while len(energies) - start > max_f:
        window = energies[start + min_f : start + max_f]
        cut = start + min_f + int(np.argmin(window))
        spans.append((start, cut))
        start = cut
    if len(energies) - start >= int(CLIP_MIN_S / 0.02):
        spans.append((start, len(energies)))
    return [
        (a * frame, b * frame) for a, b in spans if active[a:b].mean() >= 0.3
    ]


def _recording_utterances(spec, recording):
    """Lists the utterances of one recording pattern of a speaker.

    Arguments
    ---------
    spec : SpeakerSpec
        The speaker.
    recording : Recording
        One of its patterns.

    Returns
    -------
    list of UtteranceRef
        In file and time order.
    """
    refs = []
    for path in _speech_files(recording):
        if spec.kind == "prompts":
            duration = _prompt_duration(path)
            if PROMPT_MIN_S <= duration <= PROMPT_MAX_S:
                refs.append(UtteranceRef(spec.name, path, None, None, duration))
            continue
        x = load_file(path)
        spans = recording.spans or ((0.0, len(x) / SAMPLE_RATE),)
        for begin_s, end_s in spans:
            offset = int(round(begin_s * SAMPLE_RATE))
            part = x[offset : int(round(end_s * SAMPLE_RATE))]
            if len(part) / SAMPLE_RATE <= CHUNK_MAX_S:
                bounds = [(0, len(part))]
                if len(part) / SAMPLE_RATE < CLIP_MIN_S:
                    bounds = []
            else:
                bounds = _chunk_bounds(part)
            for a, b in bounds:
                refs.append(
                    UtteranceRef(
                        spec.name,
                        path,
                        offset + a,
                        offset + b,
                        (b - a) / SAMPLE_RATE,
                    )
                )
    return refs


@functools.cache
def list_utterances(name):
    """Lists every usable utterance of a speaker, in a fixed order.

    Arguments
    ---------
    name : str
        The speaker's name in the catalogue.

    Returns
    -------
    tuple of UtteranceRef
        The utterances (prompts of 1.5-6 s, or chunks of recordings).

    Raises
    ------
    FileNotFoundError
        When the speaker's files are not installed, naming the Debian
        package to install.

    Example
    -------
    >>> len(list_utterances("codec2-g3plx"))
    2
    """
    spec = speaker_spec(name)
    refs = []
    for recording in spec.recordings:
        refs.extend(_recording_utterances(spec, recording))
    if not refs:
        patterns = ", ".join(r.pattern for r in spec.recordings)
        raise FileNotFoundError(
            f"no speech found for toy-corpus speaker {name!r} ({patterns}); "
            f"install the Debian package {spec.package}"
        )
    return tuple(refs)
