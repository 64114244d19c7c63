"""Payments with Stripe: the outbound client, one-time purchases, subscription tiers and subscriptions, webhooks."""
