"""Installs speechbrain-asd, lightweight spoofing countermeasures for ASV.

Authors
 * speechbrain-asd developers
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="speechbrain-asd",
    version="0.1.0",
    description=(
        "Adversarial speaker distillation and lightweight spoofing "
        "countermeasures for SpeechBrain"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    # The top-level hparams/ folder ships inside the package as
    # speechbrain_asd.hparams (the model-folder template export reads).
    packages=find_packages(include=["speechbrain_asd", "speechbrain_asd.*"])
    + ["speechbrain_asd.hparams"],
    package_dir={"speechbrain_asd.hparams": "hparams"},
    package_data={"speechbrain_asd.hparams": ["*.yaml"]},
    # What the library imports. The offline corpus generator (pyworld,
    # setuptools<81, Debian tools) is its own distribution in
    # tools/toy_corpus (speechbrain-asd-toy-corpus), never imported here.
    install_requires=[
        "speechbrain>=1.1",
        "torch>=2.1",
        "torchaudio>=2.1",
        "hyperpyyaml>=1.2",
        "pyyaml>=5.1",
        "ruamel.yaml>=0.17.28",
        "numpy>=1.23",
        "scipy>=1.12",  # scipy.optimize.isotonic_regression (minCllr)
        "soundfile>=0.12",
        "tqdm",
    ],
    extras_require={
        "onnx": ["onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.1"],
        "plot": ["matplotlib>=3.7"],
        "dev": [
            "pytest>=7",
            "ruff>=0.4",
            "onnx>=1.16",
            "onnxruntime>=1.18",
            "onnxscript>=0.1",
            "matplotlib>=3.7",
        ],
    },
    entry_points={
        "console_scripts": ["speechbrain-asd=speechbrain_asd.cli:main"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Multimedia :: Sound/Audio :: Speech",
    ],
)
