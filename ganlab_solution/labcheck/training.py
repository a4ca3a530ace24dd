"""Hidden checks of notebook 5: the critic's accuracy and the ONNX export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ganlab.labcheck.core import approx, as_tensor, call, check, fail, randomize_batchnorm


def check_accuracy(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``critic_accuracy`` against the reference on random logits."""
    torch.manual_seed(3)
    for n in (1, 7, 100):
        logits = torch.randn(n, 2)
        for cls in (0, 1):
            result = as_tensor(call(student, f"critic_accuracy(logits, {cls})", logits, cls), "critic_accuracy")
            check(
                result.numel() == 1,
                f"critic_accuracy(logits, {cls}) returns {result.numel()} numbers: return one, the fraction of rows",
            )
            got = float(result.reshape(-1)[0])
            expected = reference(logits, cls).item()
            check(
                abs(got - expected) < 1e-6,
                f"critic_accuracy on {n} logit pairs for class {cls} is {approx(got)}; the lab's is {approx(expected)}: "
                "the fraction (between 0 and 1) of rows whose larger logit is in column cls, logits.argmax(dim=1) == cls",
            )


def check_export(student: Callable[..., Any], reference: Callable[..., Any]) -> None:
    """Hidden checks of ``export_generator`` on what its trials wrote (``remote.export_trial``): names, dynamic
    batch, eval-mode values, mode restored. The file is read here; ``reference`` is not needed."""
    import os
    import tempfile

    import numpy as np
    import onnxruntime as ort

    from ganlab_solution.models import Generator

    torch.manual_seed(4)
    generator = Generator((1, 28, 28), 16, 32)
    randomize_batchnorm(generator)
    recipe = {"network": "ganlab_solution.models:Generator", "init": ((1, 28, 28), 16, 32),
              "state": dict(generator.state_dict())}  # fmt: skip
    for training in (True, False):
        observed = call(student, "export_generator", {**recipe, "training": training})
        check(
            observed["training"] is training,
            f"export_generator left the generator in {'eval' if training else 'training'} mode: put back the mode it had (generator.train(was_training))",
        )
    # The file of the last trial (exported from eval mode), as the in-kernel check read the file after both calls.
    files, path = observed["files"], str(observed["path"])
    check(os.path.basename(path) in files, f"export_generator did not write {path}")
    with tempfile.TemporaryDirectory() as folder:  # the files as the kernel's folder held them, read here
        for name, data in files.items():
            if not (name == os.path.basename(name) and name not in ("", ".", "..") and data.dtype == torch.uint8):
                raise ValueError("a file name or content the kernel cannot have written")  # a forged reply
            with open(os.path.join(folder, name), "wb") as file:
                file.write(data.numpy().tobytes())
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a small model: the grader's threads only contend with the kernels'
        options.log_severity_level = 3
        model = os.path.join(folder, os.path.basename(path))
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()]
    check(
        names == (["input"], ["output"]),
        f"the ONNX file's input and output are named {names}; the lab names them ['input'] and ['output'] (input_names=, output_names=)",
    )
    generator.eval()
    for batch in (1, 5):
        z = torch.randn(batch, 16)
        try:
            got = session.run(None, {"input": z.numpy()})[0]
        except Exception as error:  # onnxruntime refuses the batch size
            fail(
                f"the exported generator cannot take a batch of {batch} ({type(error).__name__}): make the batch axis dynamic "
                "(dynamic_shapes=({0: torch.export.Dim('batch')},))"
            )
        with torch.no_grad():
            expected = generator(z, None).numpy()
        worst = float(np.abs(got - expected).max()) if got.shape == expected.shape else float("inf")
        check(
            worst < 1e-4,
            f"for a batch of {batch} the ONNX generator differs from the PyTorch one in eval mode by up to {approx(worst)}: "
            "export in eval mode (generator.eval() before torch.onnx.export), so BatchNorm uses its running statistics",
        )
