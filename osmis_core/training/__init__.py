"""Training room: the trainer loop, losses, optimisers and the training benchmark."""
