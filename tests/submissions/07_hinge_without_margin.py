"""Mistake: no max(0, .) in the critic's hinge loss, which makes it the unbounded Wasserstein loss."""

NOTEBOOK = "07_going_further"
EXPECT_LOST = {"test_hinge_critic_loss": 2}
EXPECT_MESSAGE = {"test_hinge_critic_loss": "max(0, 1 - 2)"}
EDITS = {
    "hinge_critic_loss": [
        (
            "F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()",
            "(1 - real_scores).mean() + (1 + fake_scores).mean()",
        )
    ]
}
