"""The model families the pack loads (families: ``sampling/families.py``): files, Lumina 2, Wan 2.2 A14B."""
