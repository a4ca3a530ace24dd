"""Hostile submission: wrong losses and steps, and the answer cell disables the guard and every check in the kernel
(own_work included); the hidden checks of 4.3, 4.4, 4.6 and 4.7 run in the grader's own process (the steps' on what
a trial of them observed) and still catch the four mistakes."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_critic_loss": 3, "test_generator_loss": 1, "test_critic_step": 3, "test_generator_step": 2}
EXPECT_MESSAGE = {
    "test_critic_loss": "twice",
    "test_generator_loss": "targets of fakes",
    "test_critic_step": "zero_grad",
    "test_generator_step": "did not change the generator",
}
EDITS = {
    "critic_loss": [
        ("return (real_term + fake_term) / 2", "return real_term + fake_term"),
        (
            "def critic_loss(",
            "import gc, sys\n\nfor _f in gc.get_objects():\n"
            "    if str(getattr(_f, '__module__', '')).endswith('labcheck.core') and getattr(_f, '__name__', '') == 'fail':\n"
            "        _f.__code__ = (lambda *args, **kwargs: None).__code__\n"
            "sys.modules['__ganlab_guard__'].verify = lambda: []\n\n\ndef critic_loss(",
        ),
    ],
    "generator_loss": [("targets[:, REAL] = 1.0", "targets[:, FAKE] = 1.0")],
    "critic_step": [("    optimizer.zero_grad()\n", "")],
    "generator_step": [("gan(None, batch_size)", "gan(gan.generator(None, batch_size).detach(), None)")],
}
