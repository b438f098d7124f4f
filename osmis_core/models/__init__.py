"""OSMIS / SIV-GAN networks."""

from .discriminator import Discriminator, DiscriminatorOutput
from .generator import Generator, GeneratorOutput

__all__ = ["Generator", "GeneratorOutput", "Discriminator", "DiscriminatorOutput"]
