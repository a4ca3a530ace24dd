"""Valid: NumPy and broadcasting instead of loops, onnxruntime called through a helper."""

NOTEBOOK = "06_generation"
EXPECT_LOST = {}
CELLS = {
    "generate_images": """
def run(sess, array):
    return sess.run(["output"], {"input": array})[0]


def generate_images(session, z):
    if isinstance(z, torch.Tensor):
        z = z.numpy()
    return run(session, z.astype("float32"))
""",
    "line_latents": """
def line_latents(z1, z2, steps):
    t = np.linspace(0.0, 1.0, num=steps, dtype=np.float32)[:, None]
    return torch.from_numpy((1 - t) * z1.numpy() + t * z2.numpy())
""",
    "plane_latents": """
def plane_latents(z1, z2, z3, steps):
    a, b = torch.meshgrid(torch.linspace(0, 1, steps), torch.linspace(0, 1, steps), indexing="xy")
    return z1 + a.reshape(-1, 1) * (z2 - z1) + b.reshape(-1, 1) * (z3 - z1)
""",
}
