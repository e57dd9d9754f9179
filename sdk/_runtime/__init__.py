"""What runs inside a step: the entry command every compute target launches."""
