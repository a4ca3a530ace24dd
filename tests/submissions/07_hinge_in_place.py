"""Valid: the hinge losses work in place on the score tensors they are given."""

NOTEBOOK = "07_going_further"
EXPECT_LOST = {}
CELLS = {
    "hinge_critic_loss": """
def hinge_critic_loss(real_scores, fake_scores):
    return real_scores.neg_().add_(1).clamp_(min=0).mean() + fake_scores.add_(1).clamp_(min=0).mean()
""",
    "hinge_generator_loss": """
def hinge_generator_loss(fake_scores):
    return fake_scores.neg_().mean()
""",
}
