"""The ticket domain: aggregates and rules, importing no web or database framework."""
