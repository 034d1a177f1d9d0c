"""Pure-torch core of Truncated CFG: no ComfyUI import anywhere below this folder.

The host-facing glue lives in ``nodes/``; everything here can be tested with torch alone.
"""
