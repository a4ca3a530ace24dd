"""Not their own work: the critic loss is imported from the reference package."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_critic_loss": 3}
EXPECT_MESSAGE = {"test_critic_loss": "reference package"}
CELLS = {
    "critic_loss": """
from ganlab_solution.losses import critic_loss
""",
}
