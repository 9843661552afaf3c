"""Robots: one identity and posting helper for every robot, keyword auto-reply rules, customer service."""
