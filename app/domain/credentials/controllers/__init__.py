"""HTTP controllers of the credentials domain (public, admin, learner, share)."""
