"""Training: LightningModule, losses, fine-tuning strategies and the Hydra entry point."""
