"""Alert rules on the AI's cost and quality, the alerts they fire, and month-end spend projections."""
