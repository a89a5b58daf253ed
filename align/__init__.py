"""align: DPO preference alignment for pediatric mass-casualty triage chat models.

Research tooling. Neither this package nor the models it trains are a medical device.
"""

__version__ = "0.1.0"
