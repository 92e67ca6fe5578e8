"""Hyperparameter templates, installed as ``speechbrain_asd.hparams``.

``spoof_detector.yaml`` is the ``hyperparams.yaml`` of every model folder
that ``speechbrain_asd.export.export_model_folder`` writes.

Authors
 * speechbrain-asd developers
"""
