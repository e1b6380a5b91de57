"""The loaded support policies, as integrating clients need them."""
