"""Developer helpers for tests and benchmarks; ComfyUI never imports this folder."""
