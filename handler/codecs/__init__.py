"""Wire formats: each module turns one format into arrays and back."""
