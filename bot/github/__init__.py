"""Everything that talks to GitHub's REST API: app auth, tokens, typed calls, errors."""
