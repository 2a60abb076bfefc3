"""What a lead *is*: entities, value objects, fields, statuses, events and errors.

Everything here is re-exported from :mod:`leadmodel`; import it from there.
"""
