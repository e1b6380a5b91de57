"""The wire contracts every service shares: support policies, business calendars, events.

Services never import each other; what they must agree on lives here.
"""
