"""``amlocal.server``: host processes that serve amlocal over HTTP (the pipeline web service)."""
