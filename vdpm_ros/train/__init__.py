"""Training V-DPM on generated scenes: loss, on-the-fly data, and a resumable trainer."""
