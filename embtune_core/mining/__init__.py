"""Miners: turn real signals (search logs, tickets, docs, LLM queries) into candidate pairs."""
