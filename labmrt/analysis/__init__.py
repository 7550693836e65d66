"""Analysis of MRT data: WCLS/EMEE causal excursion effects, robustness checks, sample size."""
