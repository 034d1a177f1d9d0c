"""V3 node classes: thin glue between ComfyUI and ``sampling/``."""
