output "alerts" {
  description = "Each alert with its percentage and dollar amount."
  value       = local.alerts
}

output "channel" {
  description = "Where alerts go."
  value       = var.alert_channel
}

output "recipients" {
  description = "Email recipients (empty unless the channel is email)."
  value       = local.recipients
}

output "webhook_signature" {
  description = "Signature derived from the webhook secret."
  value       = local.signature
  sensitive   = true
}
