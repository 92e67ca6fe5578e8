"""Installs the offline ASVspoof-2019-LA-style corpus generator (a tool).

A separate distribution, kept out of the library's required install: it
needs pyworld (which needs ``setuptools<81``) and Debian packages
(``scripts/install-system-deps.sh`` at the repository root). It writes the
protocol files with the library's own readers and writers, so it requires
``speechbrain-asd``; the library never imports it. From the repository
root: ``pip install -e .`` first, then ``pip install -e tools/toy_corpus``.

Authors
 * speechbrain-asd developers
"""

from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent

setup(
    name="speechbrain-asd-toy-corpus",
    version="0.1.0",
    description=(
        "Offline ASVspoof 2019 LA-style corpus generator for speechbrain-asd"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=["asd_toy_corpus"],
    install_requires=[
        "speechbrain-asd",
        "speechbrain>=1.1",
        "numpy>=1.23",
        "scipy>=1.10",
        "soundfile>=0.12",
        "tqdm",
        # G.722, one of the codec conditions of the 2021 eval part.
        "G722>=1.2",
        "pyworld>=0.3",
        # pyworld imports pkg_resources, which setuptools 81 removes.
        "setuptools<81",
    ],
    entry_points={
        "console_scripts": ["asd-toy-corpus=asd_toy_corpus.cli:main"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Multimedia :: Sound/Audio :: Speech",
    ],
)
