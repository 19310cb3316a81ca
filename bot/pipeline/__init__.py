"""The pipeline runner: plan a run from the config, schedule its jobs, report check runs."""
