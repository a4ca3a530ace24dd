"""Mistake: conv_output_size divides with / and returns a float."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_conv_output_size": 1}
EXPECT_MESSAGE = {"test_conv_output_size": "14.5"}
CELLS = {
    "conv_output_size": """
def conv_output_size(size, kernel_size, stride, padding):
    return (size + 2 * padding - kernel_size) / stride + 1
""",
}
