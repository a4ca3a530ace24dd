"""Mistake: a stride-2 transposed convolution does the upsampling (the DCGAN paper's way, not the lab's)."""

NOTEBOOK = "03_generator"
EXPECT_LOST = {"test_gblock": 3}
EXPECT_MESSAGE = {"test_gblock": "ConvTranspose2d"}
EDITS = {
    "gblock": [
        (
            'nn.Upsample(scale_factor=2, mode="bilinear"),\n            nn.Conv2d(cin, cout, 3, padding=1, bias=False)',
            "nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False)",
        ),
    ]
}
