"""Business rules of the case store, as plain functions named ``<entity>_<action>``."""
