"""CMFR networks (installed as ``cmfr_codec.models``).

Layers, latent codecs, and the intra and inter models live here; trained weights files
(``weights/NAME.intra.cmfrw`` and ``weights/NAME.inter.cmfrw``) are installed beside them as package data.  The networks never touch
files: the pipelines in ``cmfr_codec`` feed them tensors and hand their symbols to the entropy layer.
"""
