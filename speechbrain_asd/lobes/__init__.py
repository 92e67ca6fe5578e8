"""Neural models of speechbrain-asd (ResNetSE) and the measure of their size.

Authors
 * speechbrain-asd developers
"""
