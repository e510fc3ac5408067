"""Learner progress: an event-sourced stream per enrollment, folded into what is done and what is unlocked."""
