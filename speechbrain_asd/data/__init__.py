"""Data preparation, manifests and batch samplers for speechbrain-asd.

Authors
 * speechbrain-asd developers
"""
