"""Hostile submission: a wrong conv_output_size, and the answer cell turns the check functions into no-ops."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_conv_output_size": 1}
EXPECT_MESSAGE = {"test_conv_output_size": "replaced labcheck.check"}
CELLS = {
    "conv_output_size": """
def conv_output_size(size, kernel_size, stride, padding):
    return size // stride  # wrong for most kernels and paddings


labcheck.check = lambda *args, **kwargs: None
labcheck.check_shape = lambda *args, **kwargs: None
""",
}
