"""From plan to paper: the pre-registration bundle and the study report.

``catalog`` checks an analysis plan against a protocol, ``bundle`` writes and
verifies the pre-registration bundle, ``prereg_doc`` its readable document,
``study_data`` the descriptive parts of a study (flow, randomization,
availability, data quality, deviations), ``figures`` the plots and
``study_report`` the report that ties them to the plan's hypotheses.
"""
