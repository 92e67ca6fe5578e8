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
    install_requires=[
        "speechbrain>=1.1",
        "torch>=2.1",
        "torchaudio>=2.1",
        "hyperpyyaml>=1.2",
        "numpy>=1.23",
        "scipy>=1.10",
        "soundfile>=0.12",
        "pyworld>=0.3",
        # pyworld imports pkg_resources, which setuptools 81 removes.
        "setuptools<81",
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
