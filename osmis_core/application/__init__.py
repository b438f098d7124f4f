"""Application layer: the use cases and artefacts that the CLI, the app and library users share.

session (start / resume / inspect a run), gallery (generate, read, score pages, export), evaluation (score a
gallery), generate (sampling), runfolder (the run folder's files)."""
