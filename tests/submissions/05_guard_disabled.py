"""Hostile submission: the export leaves the generator in eval mode, and the answer cell disables the guard and
every check in the kernel (own_work included); the hidden checks of 5.2 run in the grader's own process, on the
file a trial of the export wrote and the mode it left, and still catch the mistake."""

NOTEBOOK = "05_training"
EXPECT_LOST = {"test_export_generator": 3}
EXPECT_MESSAGE = {"test_export_generator": "mode"}
EDITS = {
    "export_generator": [
        ("generator.train(was_training)", ""),
        (
            "def export_generator(",
            "import gc, sys\n\nfor _f in gc.get_objects():\n"
            "    if str(getattr(_f, '__module__', '')).endswith('labcheck.core') and getattr(_f, '__name__', '') == 'fail':\n"
            "        _f.__code__ = (lambda *args, **kwargs: None).__code__\n"
            "sys.modules['__ganlab_guard__'].verify = lambda: []\n\n\ndef export_generator(",
        ),
    ],
}
