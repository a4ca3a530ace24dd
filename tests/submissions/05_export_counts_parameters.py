"""Valid: the export prints the generator's size with the package's parameter counter (a helper, not the answer)."""

NOTEBOOK = "05_training"
EXPECT_LOST = {}
EDITS = {
    "export_generator": [
        (
            "    was_training = generator.training\n",
            "    print(f'exporting {count_parameters(generator):,} parameters to {path}')\n    was_training = generator.training\n",
        )
    ]
}
