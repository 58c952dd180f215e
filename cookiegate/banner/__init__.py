"""Hosted privacy centre, cookie banner and preferences pages of each site."""
