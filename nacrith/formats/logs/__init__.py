"""The `logs` codec's front end: templates, timestamps, variable columns and sub-streams."""
