"""Test and benchmark fixtures: tiny configs and random-weight models. Not part of the product package."""
