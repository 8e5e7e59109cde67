"""Distribution of referrals among bureaus by load (order 692n points 5, 9, 11, 12).

- :mod:`.effort`: the expected effort of a referral (the load rule, pluggable);
- :mod:`.router`: stage 0 (which bureaus may take it) and the choice by load, atomic;
- :mod:`.simulate`: the spread of load over many generated referrals.
"""
