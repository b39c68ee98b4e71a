"""Shared test data: a plausible 2027 State Council holiday schedule as the bureau would load it."""

SAMPLE_2027 = """
year = 2027
source = "国办发明电〔2026〕7号"
published_on = 2026-11-10
[[rest]]
name = "元旦"
from = 2027-01-01
to = 2027-01-03
[[rest]]
name = "春节"
from = 2027-02-06
to = 2027-02-14
[[workdays]]   # make-up working days (调休补班)
date = 2027-02-20
name = "春节补班"
"""
