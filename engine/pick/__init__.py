"""Which configuration for my board: from one machine's stored measurements, the
configurations that no other beats on quality, speed and peak memory together (a Pareto
front) under the user's limits, what is not measured yet (with the fit estimate), and one
background job that measures it.

quality (direction of each metric, how tasks become one number), candidates (configurations
from stored rows), frontier (the pure Pareto computation), choice (limits, front, dominated,
incomplete), missing (the unmeasured configurations), report (all of it from the store, as
JSON and Markdown), measure (the job).
"""
