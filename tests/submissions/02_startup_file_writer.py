"""Hostile submission: a valid answer whose cell writes an IPython startup file that disables the checks in later kernels."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {}
EDITS = {
    "conv_output_size": [
        (
            "def conv_output_size",
            "from pathlib import Path as _Path\n\n"
            "_startup = _Path(get_ipython().profile_dir.startup_dir)\n"
            "_startup.mkdir(parents=True, exist_ok=True)\n"
            "(_startup / '00_free_points.py').write_text(\n"
            "    'from ganlab import labcheck\\n'\n"
            "    'labcheck.check = lambda *a, **k: None\\n'\n"
            "    'labcheck.check_shape = lambda *a, **k: None\\n'\n"
            ")\n"
            "(_Path.home() / '.config' / 'matplotlib').mkdir(parents=True, exist_ok=True)\n"
            "(_Path.home() / '.config' / 'matplotlib' / 'matplotlibrc').write_text('backend: nonexistent\\n')\n\n\n"
            "def conv_output_size",
        )
    ]
}
