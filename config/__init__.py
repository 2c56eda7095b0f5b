"""Settings (one typed object), rule profiles and the text catalogues (ru, en)."""
