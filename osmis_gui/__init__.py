"""OSMIS Studio desktop app (PySide6).

The app only calls `osmis_core` functions and reads the files and events they produce; all engine work (data
loading, inspection, training, generation, scoring, export) runs in background workers so the window never
blocks. Start it with `osmis gui [PATH]`, `python main.py` or `osmis_gui.app.run_app(path)`. Importing it
changes nothing in the process (the entry point applies the app's process-wide settings: osmis_gui.startup).
"""
