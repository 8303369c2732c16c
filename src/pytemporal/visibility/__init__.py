"""Visibility: the list filter language, its SQL translation, List/Count support."""
