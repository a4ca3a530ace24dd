"""Hostile submission: a CBlock with a convolution bias, and torch functions and tensor methods patched to agree with anything."""

NOTEBOOK = "02_critic"
EXPECT_LOST = {"test_cblock": 3}
EXPECT_MESSAGE = {"test_cblock": "replaced torch"}
EDITS = {
    "cblock": [
        ("padding=1, bias=False)", "padding=1)"),
        (
            "class CBlock",
            "torch.allclose = lambda *args, **kwargs: True\n"
            "torch.equal = lambda *args, **kwargs: True\n"
            "torch.Tensor.allclose = lambda self, *args, **kwargs: True\n"
            "torch.nn.Module.parameters = lambda self, recurse=True: iter(())\n\n\n"
            "class CBlock",
        ),
    ]
}
