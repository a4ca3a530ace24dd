"""Not their own work: critic_loss is read from the installed package's source and compiled under the file name
ipykernel gives a cell's code, so that it looks typed in a cell; the tripwire compares it all the same."""

NOTEBOOK = "04_gan_and_losses"
EXPECT_LOST = {"test_critic_loss": 3}
EXPECT_MESSAGE = {"test_critic_loss": "reference package"}
CELLS = {
    "critic_loss": """
import importlib.util
import pathlib

_source = pathlib.Path(importlib.util.find_spec("ganlab_solution.losses").origin).read_text()
_namespace = {"__name__": "my_losses"}
exec(compile(_source, "/tmp/ipykernel_1/4242424242.py", "exec"), _namespace)
critic_loss = _namespace["critic_loss"]
""",
}
