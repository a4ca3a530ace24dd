"""Mistake: generate_images returns a torch tensor where the notebook asks for a NumPy array."""

NOTEBOOK = "06_generation"
EXPECT_LOST = {"test_generate_images": 1}
EXPECT_MESSAGE = {"test_generate_images": "NumPy array"}
CELLS = {
    "generate_images": """
def generate_images(session, z):
    z = np.asarray(z, dtype=np.float32)
    return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: z})[0])
""",
}
