"""speechbrain-asd: lightweight spoofing countermeasures for SpeechBrain.

Adversarial speaker distillation (GE2E pre-training, adversarial example
generation, 8-class fine-tuning and knowledge distillation) and the related
methods of the same family, with ASVspoof metrics. The offline corpus
generator is a separate distribution (``tools/toy_corpus``,
``asd_toy_corpus``) that this package never imports.

Authors
 * speechbrain-asd developers
"""

__version__ = "0.1.0"
