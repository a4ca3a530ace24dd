"""Valid: generate_images converts torch tensors and arrays on separate branches, and feeds the input by name."""

NOTEBOOK = "06_generation"
EXPECT_LOST = {}
CELLS = {
    "generate_images": """
def generate_images(session, z):
    if isinstance(z, torch.Tensor):
        z = z.detach().cpu().numpy()
    (images,) = session.run(["output"], {"input": z.astype(np.float32)})
    return images
""",
}
