"""What leadmodel *decides* about records: pure functions over values, and rules as data.

Everything public here is re-exported from :mod:`leadmodel`.
"""
