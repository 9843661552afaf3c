"""Group collections: members pay a share each, settled to the initiator by merchant transfer."""
