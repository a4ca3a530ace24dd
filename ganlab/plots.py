"""Plots for the notebooks: image grids and a GAN's training curves.

matplotlib is imported when a plot is drawn, so the rest of the package works without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch


def show_training(history: Mapping[str, Sequence[float]], grid: torch.Tensor, step: int) -> None:
    """Three panels: both losses, the critic's accuracies on real and fake images, the fixed-latent grid; replaces
    the previous drawing in a notebook cell, so a loop can call it every few steps."""
    import matplotlib.pyplot as plt
    from IPython.display import clear_output

    clear_output(wait=True)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.5))
    panels = {
        "losses": ((("critic_loss", "critic"), ("generator_loss", "generator")), None),
        "critic accuracy": ((("critic_acc_real", "real called real"), ("critic_acc_fake", "fake called fake")), 0.8),
    }
    for ax, (title, (curves, alpha)) in zip(axes, panels.items()):
        for key, label in curves:
            if history.get(key):
                ax.plot(history[key], label=label, alpha=alpha)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend()
    axes[1].set_ylim(-0.05, 1.05)
    axes[2].imshow(grid.permute(1, 2, 0).numpy())
    axes[2].set_title(f"fixed latents, step {step}")
    axes[2].axis("off")
    plt.show()
    plt.close(fig)
