"""The demo company: a seeded generator with ground truth, and its vendor-format export.

``generator`` simulates the company and records the truth (true channel
increments, oracle SQL probabilities, creative lift, injected defects);
``export`` writes the same data as the vendors' export files. Production code
never imports this package.
"""
