"""The live call on this node: the meeting runtime, its effect interpreter and consent policy, behind ports."""
