"""`make bench`: a flash crowd against the engine and against the conventional design."""
