"""Broken submission: an answer prints two hundred thousand lines; the output is cut, the grade is full."""

NOTEBOOK = "01_data"
EXPECT_LOST = {}
EDITS = {
    "to_unit_range": [
        ("def to_unit_range(", "for i in range(200_000):\n    print('debugging', i)\n\n\ndef to_unit_range(")
    ]
}
