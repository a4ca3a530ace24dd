"""Mistake: the generator minimises its images' scores instead of raising them."""

NOTEBOOK = "07_going_further"
EXPECT_LOST = {"test_hinge_generator_loss": 1}
EXPECT_MESSAGE = {"test_hinge_generator_loss": "minus the mean score"}
EDITS = {"hinge_generator_loss": [("return -fake_scores.mean()", "return fake_scores.mean()")]}
