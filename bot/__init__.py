"""Impact: customers' own words in the channels where teams work."""
