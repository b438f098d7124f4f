"""OSMIS Studio engine: one-shot synthesis of images and segmentation masks (OSMIS / SIV-GAN).

Plain Python/PyTorch; never imports Qt.
"""

__version__ = "0.1.0"
