"""Application layer: run folders, galleries, generation and evaluation use cases shared by the CLI and the app."""
