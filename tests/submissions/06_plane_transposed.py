"""Mistake: the plane's grid runs along beta within a row (transposed order)."""

NOTEBOOK = "06_generation"
EXPECT_LOST = {"test_plane_latents": 2}
EXPECT_MESSAGE = {"test_plane_latents": "row 0 has beta = 0"}
EDITS = {"plane_latents": [("for beta in values for alpha in values", "for alpha in values for beta in values")]}
