"""Neural models of speechbrain-asd and the measure of their size.

``resnet_se`` holds the ResNetSE countermeasure (teacher G-ResNetSE and
student L-ResNetSE presets); ``complexity`` counts its parameters and
multiply-accumulate operations.

Authors
 * speechbrain-asd developers
"""
