"""The relay pipeline: authorize → route → reserve → attempt(s) → stream → settle."""
