"""The quality harness: a small class-conditional flow model on scikit-learn's digits, an independent
judge, and the sweep that measures what each truncation setting costs in quality."""
