"""Which Inception v3 layers each SIFID feature size ("dims") uses and the smallest image each accepts; importable
without torch (the registry validates requests with them, metrics.sifid builds the feature extractor)."""

# Inception v3 layers applied in order up to each SIFID feature size ("dims").
_LAYERS_64 = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3")
_LAYERS_192 = _LAYERS_64 + ("maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3")
_LAYERS_768 = _LAYERS_192 + (
    "maxpool2",
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
    "Mixed_6b",
    "Mixed_6c",
    "Mixed_6d",
    "Mixed_6e",
)
_LAYERS_2048 = _LAYERS_768 + ("Mixed_7a", "Mixed_7b", "Mixed_7c")
INCEPTION_LAYERS = {64: _LAYERS_64, 192: _LAYERS_192, 768: _LAYERS_768, 2048: _LAYERS_2048}
# Smallest image side giving a feature map of at least 2 x 2 positions at each dims.
INCEPTION_MIN_SIZE = {64: 9, 192: 23, 768: 59, 2048: 107}
