"""The truncation inputs a user can get wrong, each with the words the refusal must contain.

One table for every place that reads them: ``TruncationPolicy.from_inputs`` (unit tier) and both
nodes, the guider and the model patch (host tier).
"""
import math

BAD_POLICY_INPUTS = [
    ({"cfg_truncate_steps": -1}, "cfg_truncate_steps must be 0"),
    ({"cfg_truncate_steps": 2.5}, "cfg_truncate_steps must be a whole number"),
    ({"cfg_trunc_ratio": 1.5}, r"cfg_trunc_ratio must be in \[0, 1\]"),
    ({"cfg_trunc_ratio": -0.1}, r"cfg_trunc_ratio must be in \[0, 1\]"),
    ({"cfg_trunc_ratio": math.nan}, "cfg_trunc_ratio is nan; give a finite number"),
    ({"sigma_low": 0.9, "sigma_high": 0.5}, "sigma window is inverted"),
    ({"sigma_low": -1.0}, "sigma_low must be 0"),
    ({"sigma_high": -1.0}, "sigma_high must be 0"),
    ({"sigma_high": math.inf}, "sigma_high is inf; give a finite number"),
    ({"sigma_low": "low"}, "sigma_low must be a number, got 'low'"),
    ({"adaptive_threshold": 1.5}, r"adaptive_threshold must be in \[0, 1\]"),
    ({"adaptive_decay": 1.0}, r"adaptive_decay must be in \[0, 1\)"),
    ({"adaptive_decay": math.nan}, "adaptive_decay is nan"),
    ({"keep": "both"}, "keep must be one of cond, uncond, reuse, reuse_extrapolated(, .*)?, got 'both'"),
    ({"cfg_every": -1}, "cfg_every must be 0"),
    ({"cfg_every": 2.5}, "cfg_every must be a whole number"),
    ({"reuse_refresh": 0.2, "keep": "cond"}, "reuse_refresh refreshes reused guidance: it needs keep = reuse"),
    ({"reuse_refresh": -0.5, "keep": "reuse"}, "reuse_refresh must be 0"),
    ({"reuse_refresh": math.nan, "keep": "reuse"}, "reuse_refresh is nan"),
    ({"cfg_low_noise": -1.0}, "cfg_low_noise must be 0"),
    ({"cfg_low_noise": "high"}, "cfg_low_noise must be a number, got 'high'"),
    ({"cfg_evry": 2}, "unknown truncation input.*cfg_evry"),
    ({"cfg_schedule": "4, 4, high, 1"}, "cfg_schedule value 3 is 'high', not a number"),
    ({"cfg_schedule": "4, -1"}, r"cfg_schedule value 2 is -1: each scale must be in \[0, 100\]"),
    ({"cfg_schedule": "4, nan"}, r"cfg_schedule value 2 is nan: each scale must be in \[0, 100\]"),
    ({"cfg_schedule": 4.0}, "cfg_schedule must be a text of guidance scales"),
    ({"cfg_schedule": "4, 1", "cfg_low_noise": 3.0},
     "cfg_schedule sets the scale of every step.*set cfg_low_noise to 0"),
    ({"z_image_cfg_truncation": 1.5}, r"z_image_cfg_truncation must be in \[0, 1\] \(1.0 = off, as in Z-Image\)"),
    ({"z_image_cfg_truncation": math.nan}, "z_image_cfg_truncation is nan; give a finite number"),
    ({"lumina_cfg_trunc": -0.25}, r"lumina_cfg_trunc must be in \[0, 100\] \(100 = off"),
    ({"lumina_cfg_trunc": "quarter"}, "lumina_cfg_trunc must be a number, got 'quarter'"),
]
